"""Checks on the local files a tokenizer is built from.

LiBai's tokenizers could download vocabularies by model name; this package never
downloads anything, so a missing file is the most common first error a user sees.
The message names the argument, the path, what the file should contain and that
nothing is fetched.
"""

from __future__ import annotations

import os

# Model names that LiBai (and transformers) accepted as download shortcuts. When a
# user passes one of them as a path we say so explicitly.
_KNOWN_SHORTCUTS = {
    "bert-base-uncased",
    "bert-large-uncased",
    "bert-base-cased",
    "bert-large-cased",
    "bert-base-chinese",
    "gpt2",
    "gpt2-medium",
    "gpt2-large",
    "roberta-base",
    "roberta-large",
    "t5-small",
    "t5-base",
    "t5-large",
}


def require_file(path: str | None, *, owner: str, arg: str, content: str) -> str:
    """Return ``path`` as a string when it names an existing file, else raise.

    Args:
        path: the path given by the user (may be ``None``).
        owner: the class asking, e.g. ``"BertTokenizer"``.
        arg: the constructor argument that holds the path, e.g. ``"vocab_file"``.
        content: what the file contains, e.g. ``"a WordPiece vocabulary, one token per line"``.

    Raises:
        FileNotFoundError: the path is missing or is not a file; the message says which
            argument, what file is expected, and that nothing is downloaded.
    """
    if path is None or str(path) == "":
        raise FileNotFoundError(
            f"{owner}: `{arg}` is not set. It must be the path of a local file ({content}); "
            "nothing is downloaded."
        )
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        raise FileNotFoundError(
            f"{owner}: `{arg}`={path!r} is a directory; it must be the path of a file ({content})."
        )
    hint = ""
    if path in _KNOWN_SHORTCUTS:
        hint = (
            f" {path!r} looks like a pretrained model name: download its files yourself and "
            "pass their local paths."
        )
    raise FileNotFoundError(
        f"{owner}: `{arg}` file not found: {path!r} (expected {content}). "
        f"Nothing is downloaded: pass the path of a local file.{hint}"
    )
