"""A small rule-based sentence splitter for BERT preprocessing (no NLTK data needed).

LiBai splits with NLTK's punkt model, which must be downloaded at run time; this
splitter needs nothing: a sentence ends at ``.``, ``!`` or ``?`` (optionally followed
by closing quotes or brackets) before whitespace and an upper-case letter, digit, CJK
character or opening quote, unless the word before the period is a known abbreviation or a single
initial; and at ``。！？`` (CJK) anywhere. With ``keep_newlines`` line breaks also end
sentences (LiBai's ``--keep-newlines``).
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf",
    "fig", "no", "vol", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "dept", "est", "u.s",
}  # fmt: skip

# Candidate boundary: terminal punctuation, closing quotes/brackets, whitespace, and a
# plausible sentence start.
_LATIN_END = re.compile(
    r"([.!?]+[\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ\u3400-\u4dbf\u4e00-\u9fff])"
)
_CJK_END = re.compile(r"([。！？]+[”’」』）]*)")


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the period ending at ``end`` belongs to an abbreviation or an initial."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].rstrip(".").lstrip("\"'“‘([").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str, keep_newlines: bool = False) -> list[str]:
    """Split ``text`` into sentences (stripped, empty ones dropped)."""
    blocks = text.splitlines() if keep_newlines else [text]
    sentences: list[str] = []
    for block in blocks:
        pieces = []
        position = 0
        for match in _LATIN_END.finditer(block):
            punctuation_end = match.end(1)
            if block[match.start(1)] == "." and _is_abbreviation(block, match.start(1) + 1):
                continue
            pieces.append(block[position:punctuation_end])
            position = match.end(2)
        pieces.append(block[position:])
        for piece in pieces:
            parts = _CJK_END.split(piece)
            # re.split with a group alternates text and delimiter: re-attach delimiters.
            merged = [
                parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
                for i in range(0, len(parts), 2)
            ]
            sentences.extend(s.strip() for s in merged if s.strip())
    return sentences
