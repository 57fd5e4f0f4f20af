"""The quickstart's data: bundled Shakespeare, a tokenizer trained on it, a Megatron dataset.

``configs/quickstart.py`` trains a small GPT on ``shakespeare.txt`` (three public-domain
plays, see ``SOURCE.md``). Nothing is downloaded; on first use this module

1. trains a byte-level BPE tokenizer (the ``tokenizers`` library) on the text and saves
   it in GPT-2's format (``vocab.json`` + ``merges.txt``), read by
   :class:`libai.tokenizer.GPT2Tokenizer`;
2. cuts the text into documents (one per scene), writes them as JSON lines and turns
   them into a Megatron indexed dataset (``.bin`` + ``.idx``) with libai.data's own
   preprocessing, one end-of-document token after each scene;

and caches both in ``$LIBAI_CACHE_DIR`` (default ``~/.cache/libai``) under a folder
named after a hash of the text and the vocabulary size, so a changed text or size
never reuses stale files. Files are written to a temporary name and renamed, so an
interrupted first run (or two processes at once) never leaves a half-written cache.

The config refers to these as ``LazyCall(quickstart_tokenizer)(...)`` and
``LazyCall(quickstart_indexed_dataset)(...)``: loading, checking or showing the config
costs nothing; the work happens when the trainer builds them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Union

__all__ = [
    "EOD_TOKEN",
    "TEXT_PATH",
    "cache_dir",
    "data_prefix",
    "quickstart_indexed_dataset",
    "quickstart_tokenizer",
    "split_documents",
    "train_tokenizer",
]

TEXT_PATH = Path(__file__).resolve().parent / "shakespeare.txt"
EOD_TOKEN = "<|endoftext|>"
DATASET_NAME = "shakespeare_text_document"
# A one-line paragraph in capitals: a play's title ("MACBETH") or an act ("ACT II").
_HEADING = re.compile(r"^[A-Z][A-Z' ]*$")

PathLike = Union[str, os.PathLike]


def _text_hash(vocab_size: int) -> str:
    digest = hashlib.sha256(TEXT_PATH.read_bytes())
    digest.update(f"vocab={vocab_size}".encode())
    return digest.hexdigest()[:12]


def cache_dir(vocab_size: int = 2048, root: PathLike | None = None) -> Path:
    """The folder holding this text's tokenizer and dataset (not created here).

    ``root`` defaults to ``$LIBAI_CACHE_DIR``, else ``~/.cache/libai``.
    """
    base = Path(root or os.environ.get("LIBAI_CACHE_DIR") or "~/.cache/libai").expanduser()
    return base / f"quickstart-{_text_hash(vocab_size)}"


def data_prefix(vocab_size: int = 2048, root: PathLike | None = None) -> str:
    """The Megatron prefix (``<prefix>.bin`` / ``.idx``) of the tokenized text."""
    return str(cache_dir(vocab_size, root) / DATASET_NAME)


def split_documents(text: str) -> list[str]:
    """Cut the plays into documents, one per scene.

    A play's title and ``ACT`` heading go with the scene that follows them. Raises
    ``ValueError`` when the text has no ``SCENE`` headings.
    """
    docs: list[str] = []
    current: list[str] = []
    headings: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        if _HEADING.match(paragraph):
            headings.append(paragraph)
        elif paragraph.startswith("SCENE"):
            if current:
                docs.append("\n\n".join(current))
            current, headings = headings + [paragraph], []
        else:
            current += headings + [paragraph]
            headings = []
    if current or headings:
        docs.append("\n\n".join(current + headings))
    if len(docs) < 2:
        raise ValueError(f"{TEXT_PATH} has no 'SCENE' heading lines to split documents at")
    return docs


def _atomic_dir(final: Path) -> Path:
    """A fresh temporary folder beside ``final`` (renamed into place when complete)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))


def _publish(tmp: Path, final: Path) -> None:
    try:
        os.replace(tmp, final)
    except OSError:
        # Another process published the same content first: keep theirs.
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def train_tokenizer(vocab_size: int = 2048, root: PathLike | None = None) -> tuple[str, str]:
    """Train (once) a byte-level BPE on the bundled text; return ``(vocab_file, merges_file)``."""
    from tokenizers import ByteLevelBPETokenizer

    if vocab_size < 300:
        raise ValueError(f"vocab_size must be at least 300 (256 bytes + merges), got {vocab_size}")
    folder = cache_dir(vocab_size, root) / "tokenizer"
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        tmp = _atomic_dir(folder)
        bpe = ByteLevelBPETokenizer()
        bpe.train(
            [str(TEXT_PATH)],
            vocab_size=vocab_size,
            min_frequency=2,
            special_tokens=[EOD_TOKEN],
            show_progress=False,
        )
        bpe.save_model(str(tmp))
        _publish(tmp, folder)
    return str(vocab), str(merges)


def quickstart_tokenizer(vocab_size: int = 2048, cache: PathLike | None = None) -> Any:
    """A :class:`libai.tokenizer.GPT2Tokenizer` over the tokenizer trained on the text."""
    from libai.tokenizer import GPT2Tokenizer

    vocab, merges = train_tokenizer(vocab_size, cache)
    return GPT2Tokenizer(vocab_file=vocab, merges_file=merges)


def _write_documents(path: Path) -> None:
    docs = split_documents(TEXT_PATH.read_text(encoding="utf-8"))
    with open(path, "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps({"text": doc}) + "\n")


def quickstart_indexed_dataset(vocab_size: int = 2048, cache: PathLike | None = None) -> Any:
    """The tokenized text as a Megatron indexed dataset, built on first use.

    Returns what :func:`libai.data.data_utils.get_indexed_dataset` returns for
    :func:`data_prefix`.
    """
    from libai.data.data_utils import get_indexed_dataset

    prefix = Path(data_prefix(vocab_size, cache))
    if not (prefix.with_suffix(".bin").is_file() and prefix.with_suffix(".idx").is_file()):
        _build_indexed_dataset(prefix, vocab_size, cache)
    return get_indexed_dataset(str(prefix), data_impl="mmap", skip_warmup=True)


def _build_indexed_dataset(prefix: Path, vocab_size: int, cache: PathLike | None) -> None:
    from libai.data.tools import preprocess

    vocab, merges = train_tokenizer(vocab_size, cache)
    tmp = _atomic_dir(prefix)
    try:
        jsonl = tmp / "documents.jsonl"
        _write_documents(jsonl)
        # The same command a user runs on their own corpus (tools/preprocess_data.py).
        argv = [
            "--input", str(jsonl), "--output-prefix", str(tmp / "shakespeare"),
            "--tokenizer-name", "GPT2Tokenizer", "--vocab-file", vocab, "--merges-file", merges,
            "--append-eod", "--workers", "1", "--no-progress",
        ]  # fmt: skip
        code = preprocess.main(argv)
        built = tmp / "shakespeare_text_document"
        if code != 0 or not built.with_suffix(".idx").is_file():
            raise RuntimeError(
                f"preprocessing the quickstart text failed (exit code {code}): "
                f"python -m libai.data.tools.preprocess {' '.join(argv)}"
            )
        # .idx last: its presence is what marks the dataset complete.
        os.replace(built.with_suffix(".bin"), prefix.with_suffix(".bin"))
        os.replace(built.with_suffix(".idx"), prefix.with_suffix(".idx"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
