"""Nearest valid names for "did you mean" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(
    word: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6, margin: float = 0.1
) -> list[str]:
    """Up to ``n`` candidates similar to ``word``, best first.

    Only names about as close as the best one are kept (within ``margin`` of
    its similarity): ``warmup_iters`` suggests ``warmup_iter``, not every
    name that shares ``_iter``.
    """
    scored = []
    for candidate in set(candidates):
        matcher = difflib.SequenceMatcher(None, word, candidate)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((ratio, candidate))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = scored[0][0]
    return [candidate for ratio, candidate in scored[:n] if ratio >= best - margin]
