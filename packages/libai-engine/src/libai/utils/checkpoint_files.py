"""Which checkpoints a directory holds, read from the files alone (no OneFlow import).

The layout is :mod:`libai.utils.checkpoint`'s: ``<save_dir>/<name>/meta.json`` marks a
finished checkpoint, ``<save_dir>/last_checkpoint`` names the newest one, ``*.tmp-*``
directories are unfinished saves and ``<name>.old-*`` a finished checkpoint moved
aside while its replacement was renamed in. The training supervisor (``libai-engine
run --max-restarts``) reads these without importing OneFlow.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Optional

__all__ = [
    "LAST_CHECKPOINT_FILE",
    "META_FILE",
    "complete_checkpoints",
    "find_last_checkpoint",
    "last_checkpoint_iteration",
    "read_meta",
]

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
LAST_CHECKPOINT_FILE = "last_checkpoint"
TMP_MARK = ".tmp-"
OLD_MARK = ".old-"


class CheckpointMetaError(RuntimeError):
    """A checkpoint's ``meta.json`` is missing or unreadable; the message names it."""


def read_meta(path: str) -> dict:
    """The parsed ``meta.json`` of checkpoint directory ``path``.

    Raises :class:`CheckpointMetaError` naming the file when it cannot be read or is
    not a checkpoint's metadata.
    """
    meta_path = os.path.join(path, META_FILE)
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise CheckpointMetaError(f"cannot read checkpoint metadata {meta_path}: {exc}") from exc
    if not isinstance(meta, dict) or "files" not in meta or "checkpointables" not in meta:
        raise CheckpointMetaError(f"{meta_path} is not a LiBai checkpoint's metadata")
    return meta


def complete_checkpoints(save_dir: str) -> list[str]:
    """Names of the finished checkpoints in ``save_dir``, sorted."""
    if not save_dir or not os.path.isdir(save_dir):
        return []
    names = os.listdir(save_dir)
    complete = []
    for n in names:
        if TMP_MARK in n or not os.path.isfile(os.path.join(save_dir, n, META_FILE)):
            continue
        # "<name>.old-<token>" counts only if the rename of its replacement never happened.
        if OLD_MARK in n and n.split(OLD_MARK)[0] in names:
            continue
        complete.append(n)
    return sorted(complete)


def find_last_checkpoint(save_dir: str) -> Optional[str]:
    """The name of the newest finished checkpoint in ``save_dir`` (``None``: there is none).

    ``last_checkpoint`` decides; when it names nothing finished, the finished
    checkpoint with the newest ``meta.json`` does.
    """
    tag = os.path.join(save_dir, LAST_CHECKPOINT_FILE)
    if os.path.isfile(tag):
        with open(tag) as f:
            name = f.read().strip()
        if name and os.path.isfile(os.path.join(save_dir, name, META_FILE)):
            return name
        logger.warning(
            "%s names %r, which is not a complete checkpoint; using the newest complete one",
            tag,
            name,
        )
    complete = complete_checkpoints(save_dir)
    if not complete:
        return None
    return max(complete, key=lambda n: os.path.getmtime(os.path.join(save_dir, n, META_FILE)))


def last_checkpoint_iteration(save_dir: str) -> Optional[int]:
    """The ``iteration`` stored with the newest checkpoint in ``save_dir`` (``None``: none)."""
    name = find_last_checkpoint(save_dir) if save_dir else None
    if name is None:
        return None
    iteration = read_meta(os.path.join(save_dir, name)).get("extra", {}).get("iteration")
    return None if iteration is None else int(iteration)
