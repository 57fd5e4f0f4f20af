"""Turn JSON-lines text into Megatron indexed datasets (``.bin`` + ``.idx``).

Each input line is a JSON object; the text under every ``--json-keys`` key is one
document. Documents are tokenized by ``--workers`` processes (in input order), split
into sentences first with ``--split-sentences`` (BERT/T5 need sentence-level data), and
written to ``{output_prefix}_{key}_{document|sentence}.bin/.idx``. Output files appear
only when everything succeeded.

    python tools/preprocess_data.py --input docs.jsonl --output-prefix data/corpus \\
        --tokenizer-name GPT2Tokenizer --vocab-file gpt2-vocab.json \\
        --merges-file gpt2-merges.txt --append-eod --workers 2

The same command is ``python -m libai.data.tools.preprocess``. OneFlow is not imported.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from libai.data.data_utils import indexed_dataset
from libai.data.tools.sentence_split import split_sentences

TOKENIZERS = ("BertTokenizer", "GPT2Tokenizer", "RobertaTokenizer", "T5Tokenizer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="preprocess_data.py",
        description="Tokenize JSON-lines documents into Megatron .bin/.idx indexed datasets.",
    )
    group = parser.add_argument_group("input data")
    group.add_argument("--input", required=True, help="JSON-lines file, one document per line")
    group.add_argument(
        "--json-keys", nargs="+", default=["text"], help="keys to extract (default: text)"
    )
    group.add_argument(
        "--split-sentences", action="store_true", help="split documents into sentences"
    )
    group.add_argument(
        "--keep-newlines", action="store_true", help="line breaks also end sentences"
    )

    group = parser.add_argument_group("tokenizer")
    group.add_argument("--tokenizer-name", required=True, choices=TOKENIZERS)
    group.add_argument(
        "--vocab-file", help="vocab.txt (BERT), vocab.json (GPT-2/RoBERTa) or spiece.model (T5)"
    )
    group.add_argument("--merges-file", help="BPE merges file (GPT-2/RoBERTa)")
    group.add_argument("--do-lower-case", action="store_true", help="lower-case (BERT)")
    group.add_argument("--extra-ids", type=int, default=0, help="sentinel tokens of T5Tokenizer")
    group.add_argument("--append-eod", action="store_true", help="append an end-of-document token")
    group.add_argument(
        "--do-chinese-wwm", action="store_true", help="mark Chinese word pieces (BERT)"
    )

    group = parser.add_argument_group("output data")
    group.add_argument("--output-prefix", required=True, help="path prefix of the output files")
    group.add_argument("--dataset-impl", default="mmap", choices=["mmap", "lazy", "cached"])

    group = parser.add_argument_group("runtime")
    group.add_argument("--workers", type=int, default=1, help="tokenizer processes (default: 1)")
    group.add_argument(
        "--chunk-size", type=int, default=32, help="documents sent to a worker at a time"
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument(
        "--log-interval",
        type=int,
        default=0,
        help="with --no-progress, print a progress line every N documents (LiBai's option)",
    )
    return parser


def build_tokenizer_from_args(args: argparse.Namespace) -> Any:
    """The tokenizer named by ``--tokenizer-name`` with the vocabulary arguments."""
    from libai import tokenizer as tokenizers

    name = args.tokenizer_name
    if name == "BertTokenizer":
        return tokenizers.BertTokenizer(
            args.vocab_file, do_lower_case=args.do_lower_case, do_chinese_wwm=args.do_chinese_wwm
        )
    if name in ("GPT2Tokenizer", "RobertaTokenizer"):
        return getattr(tokenizers, name)(args.vocab_file, args.merges_file)
    return tokenizers.T5Tokenizer(args.vocab_file, extra_ids=args.extra_ids)


def eod_id(tokenizer: Any) -> int:
    """End-of-document id: ``eod_token``, else ``eos_token``, else ``pad_token`` (LiBai)."""
    for attr in ("eod_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    raise ValueError(f"--append-eod: {type(tokenizer).__name__} has no eod, eos or pad token")


class DocumentEncoder:
    """Tokenizes one JSON line; one instance lives in every worker process."""

    tokenizer: Any = None

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def initializer(self) -> None:
        DocumentEncoder.tokenizer = build_tokenizer_from_args(self.args)

    def encode(self, item: tuple[int, str]) -> tuple[dict[str, list[list[int]]], int]:
        lineno, line = item
        if DocumentEncoder.tokenizer is None:
            self.initializer()
        tokenizer = DocumentEncoder.tokenizer
        if not line.strip():
            return {}, len(line.encode("utf-8"))
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.args.input}:{lineno}: not a JSON object: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(
                f"{self.args.input}:{lineno}: expected a JSON object, got {type(data).__name__}"
            )
        docs: dict[str, list[list[int]]] = {}
        for key in self.args.json_keys:
            if key not in data:
                raise KeyError(
                    f"{self.args.input}:{lineno}: no key {key!r} (keys: {', '.join(sorted(data))}); "
                    "choose them with --json-keys"
                )
            text = data[key]
            if not isinstance(text, str):
                raise ValueError(
                    f"{self.args.input}:{lineno}: {key!r} holds {type(text).__name__}, not text"
                )
            sentences = (
                split_sentences(text, self.args.keep_newlines)
                if self.args.split_sentences
                else [text]
            )
            ids = [s for s in tokenizer.encode_batch(sentences) if s] if sentences else []
            if ids and self.args.append_eod:
                ids[-1].append(eod_id(tokenizer))
            docs[key] = ids
        return docs, len(line.encode("utf-8"))


def _progress(total_bytes: int, enabled: bool) -> Any:
    """A rich progress bar over input bytes (a no-op object when disabled)."""
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("tokenizing"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[docs]} docs"),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def _check_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if not os.path.isfile(args.input):
        parser.error(
            f"--input {args.input!r}: no such file (a JSON-lines file, one document per line)"
        )
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    if args.tokenizer_name in ("GPT2Tokenizer", "RobertaTokenizer") and not args.merges_file:
        parser.error(f"{args.tokenizer_name} needs --merges-file")
    if not args.vocab_file:
        parser.error(f"{args.tokenizer_name} needs --vocab-file")
    out_dir = os.path.dirname(os.path.abspath(args.output_prefix))
    if not os.path.isdir(out_dir):
        parser.error(f"--output-prefix {args.output_prefix!r}: directory {out_dir} does not exist")
    if args.tokenizer_name == "BertTokenizer" and not args.split_sentences:
        print(
            "note: BertTokenizer without --split-sentences gives one sentence per document; "
            "BertDataset(binary_head=True) needs two or more.",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the preprocessing; return the exit code (0 on success, 1 on bad input data)."""
    try:
        return _run(argv)
    except (ValueError, KeyError) as exc:
        # Bad input lines: the message names file and line; a traceback would bury it.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(args, parser)
    if args.workers > 1:
        # The Rust tokenizer's own thread pool does not survive fork(); workers give the parallelism.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        tokenizer = build_tokenizer_from_args(args)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        parser.error(str(exc))
    if args.append_eod:
        eod_id(tokenizer)
    level = "sentence" if args.split_sentences else "document"
    outputs = {key: f"{args.output_prefix}_{key}_{level}" for key in args.json_keys}
    builders = {
        key: indexed_dataset.make_builder(
            prefix + ".tmp.bin", args.dataset_impl, vocab_size=len(tokenizer)
        )
        for key, prefix in outputs.items()
    }
    encoder = DocumentEncoder(args)
    total_bytes = os.path.getsize(args.input)
    counts = {"docs": 0, "sentences": 0, "tokens": 0}
    done_bytes = 0
    start = time.time()
    progress = _progress(total_bytes, not args.no_progress)
    ok = False
    try:
        with open(args.input, encoding="utf-8") as lines:
            numbered = enumerate(lines, start=1)
            if args.workers > 1:
                pool = multiprocessing.Pool(args.workers, initializer=encoder.initializer)
                results = pool.imap(encoder.encode, numbered, args.chunk_size)
            else:
                pool = None
                encoder.initializer()
                results = map(encoder.encode, numbered)
            try:
                if progress is not None:
                    progress.start()
                    task = progress.add_task("tokenize", total=total_bytes, docs=0)
                for docs, nbytes in results:
                    for key, sentences in docs.items():
                        if not sentences:
                            continue
                        for sentence in sentences:
                            builders[key].add_item(sentence)
                            counts["tokens"] += len(sentence)
                        builders[key].end_document()
                        counts["sentences"] += len(sentences)
                    counts["docs"] += 1
                    done_bytes += nbytes
                    if progress is not None:
                        progress.update(task, advance=nbytes, docs=counts["docs"])
                    elif args.log_interval > 0 and counts["docs"] % args.log_interval == 0:
                        elapsed = max(time.time() - start, 1e-9)
                        print(
                            f"processed {counts['docs']} documents ({counts['docs'] / elapsed:.1f} docs/s, "
                            f"{done_bytes / elapsed / 1e6:.2f} MB/s)",
                            file=sys.stderr,
                        )
            finally:
                if progress is not None:
                    progress.stop()
                if pool is not None:
                    pool.close()
                    pool.join()
        for key, prefix in outputs.items():
            builders[key].finalize(prefix + ".tmp.idx")
        for prefix in outputs.values():
            os.replace(prefix + ".tmp.bin", prefix + ".bin")
            os.replace(prefix + ".tmp.idx", prefix + ".idx")
        ok = True
    finally:
        if not ok:
            for prefix in outputs.values():
                for suffix in (".tmp.bin", ".tmp.idx"):
                    if os.path.exists(prefix + suffix):
                        os.remove(prefix + suffix)
    elapsed = max(time.time() - start, 1e-9)
    print(
        f"{counts['docs']} documents, {counts['sentences']} {level}s, {counts['tokens']} tokens in "
        f"{elapsed:.1f}s ({total_bytes / elapsed / 1e6:.2f} MB/s) -> "
        + ", ".join(f"{p}.bin/.idx" for p in outputs.values()),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
