"""Checkpoints that a crash cannot corrupt (LiBai's ``Checkpointer``, written atomically).

A checkpoint is a directory ``<save_dir>/<name>/``::

    model/          flow.save of the model's state dict
    optimizer/      flow.save of each other checkpointable's state dict (by its keyword)
    lr_scheduler/
    meta.json       the extra values (iteration, consumed samples, ...), the RNG states of
                    every rank, and the size of every file above (the manifest)

Saving writes everything into ``<name>.tmp-<token>/`` first, ``meta.json`` last, and
only then renames the directory to ``<name>``; the ``last_checkpoint`` file is
replaced atomically after that. A save interrupted at any point leaves either the
previous checkpoint or a ``*.tmp-*`` directory that nothing ever reads. Loading
checks every file against the manifest, so a truncated or missing file is a
:class:`CheckpointError` naming it, not a half-loaded model.

Multi-process runs: every rank calls :meth:`Checkpointer.save` and
:meth:`Checkpointer.load`; rank 0 does all the disk I/O, so the ranks need no shared
filesystem. A save runs in three phases, so that a write that fails partway (disk
full, a file size limit, a read-only directory) cannot leave a rank waiting:

1. every collective: the temporary name, every rank's RNG state, and each global
   tensor of the state dicts gathered whole to rank 0 as a local tensor (what
   ``flow.save(..., global_dst_rank=0)`` does, but before any file is opened);
2. rank 0 writes everything with no collective (``flow.save`` of local tensors);
3. one exchange of rank 0's outcome, so every rank returns, or every rank raises
   the same :class:`CheckpointError` naming the path.

The cost: while it writes, rank 0 holds one host copy of every global tensor of
the model and the other checkpointables (for AdamW about 3x the parameters), which
``flow.save`` gathered one tensor at a time. Loading reads on rank 0 and
broadcasts (``flow.load(..., global_src_rank=0)``); the files are the same either way.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import random
import re
import shutil
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from libai.utils import distributed as dist
from libai.utils.checkpoint_files import (
    LAST_CHECKPOINT_FILE,
    META_FILE,
    OLD_MARK,
    TMP_MARK,
    CheckpointMetaError,
    complete_checkpoints,
    find_last_checkpoint,
    last_checkpoint_iteration,
    read_meta,
)
from libai.utils.oneflow_env import flow

logger = logging.getLogger(__name__)

__all__ = ["CheckpointError", "Checkpointer"]

FORMAT_VERSION = 1
_PICKLE_FILE = "pickled_data"  # what flow.save writes at the top of its directory


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, unreadable or cannot be written; the message
    names the file."""


# -- internals -------------------------------------------------------------------------


def _manifest(root: str) -> dict:
    sizes = {}
    for folder, _, files in os.walk(root):
        for file in files:
            path = os.path.join(folder, file)
            sizes[os.path.relpath(path, root)] = os.path.getsize(path)
    return sizes


def _write_atomic_text(path: str, text: str) -> None:
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex[:8]}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *[_py(v) for v in np_state[2:]]],
        "oneflow": flow.get_rng_state().numpy().tolist(),
    }


def _write_error(name: str, path: str, exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
    return (
        f"cannot write checkpoint {name!r}: {path}: {reason}; the previous checkpoint "
        "stays the newest (free disk space, raise the file size limit or make the "
        "directory writable, then --resume)"
    )


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _set_rng_state(state: Mapping) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    flow.set_rng_state(flow.tensor(state["oneflow"], dtype=flow.uint8))


def _json_ready(extra: Mapping, name: str) -> dict:
    try:
        json.dumps(dict(extra))
    except TypeError as exc:
        bad = [k for k, v in extra.items() if not _is_jsonable(v)]
        raise CheckpointError(
            f"checkpoint {name!r}: the extra values {bad} cannot be stored in {META_FILE} "
            "(use numbers, strings, lists and dicts)"
        ) from exc
    return dict(extra)


def _is_jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


def _match_like(value: Any, like: Any) -> Any:
    """Give a loaded tensor the placement and sbp (or locality) of the tensor it replaces."""
    if not isinstance(value, flow.Tensor) or not isinstance(like, flow.Tensor):
        return value
    if like.is_global:
        if not value.is_global:
            # A local value read in a one-process run is the whole tensor.
            value = value.to_global(
                placement=like.placement, sbp=[flow.sbp.broadcast] * len(like.sbp)
            )
            return value.to_global(sbp=like.sbp)
        return value.to_global(placement=like.placement, sbp=like.sbp)
    if value.is_global:
        value = dist.to_whole_local(value)
    return value.to(like.device)


def _state_like(value: Any, param: Any) -> Any:
    if not isinstance(value, flow.Tensor) or value.is_global:
        return value
    if tuple(value.shape) == tuple(param.shape):
        return _match_like(value, param)
    return value.to_global(placement=param.placement, sbp=[flow.sbp.broadcast] * len(param.sbp))


def _map_global_tensors(obj: Any, func: Any) -> Any:
    """``obj`` with each global tensor ``t`` inside its dicts, lists and tuples replaced
    by ``func(t)``, in the order of the containers (the same on every rank)."""
    if isinstance(obj, flow.Tensor):
        return func(obj) if obj.is_global else obj
    if isinstance(obj, dict):
        return {k: _map_global_tensors(v, func) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_global_tensors(v, func) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map_global_tensors(v, func) for v in obj)
    return obj


def _localize(obj: Any) -> Any:
    """Replace global tensors by their whole local value (for local models and optimizers)."""
    return _map_global_tensors(obj, dist.to_whole_local)


def _whole_on_rank0(tensor: Any) -> Any:
    """The whole value of a global tensor as a local CPU tensor on rank 0 (an empty one
    elsewhere); a collective every rank calls. Boxed on the CPU first, as ``flow.save``
    does, so that no device holds a second copy."""
    cpu = flow.placement("cpu", tensor.placement.ranks)
    on_cpu = tensor.to_global(placement=cpu, sbp=tensor.sbp)
    rank0 = flow.placement("cpu", [0])
    return on_cpu.to_global(placement=rank0, sbp=flow.sbp.broadcast).to_local()


def _gather_to_rank0(state: Any) -> Any:
    """``state`` with its global tensors gathered whole to rank 0 (phase 1 of a save)."""
    return _map_global_tensors(state, _whole_on_rank0)


def _one_for_all(func: Any) -> Any:
    """Run ``func`` on rank 0 and give its result (or its error) to every rank.

    Raising on rank 0 alone would leave the other ranks waiting in the next
    collective; here every rank raises the same :class:`CheckpointError`.
    """
    result: Any = None
    error: str | None = None
    if dist.is_main_process():
        try:
            result = func()
        except CheckpointError as exc:
            error = str(exc)
            if dist.get_world_size() == 1:
                raise
    if dist.get_world_size() > 1:
        result, error = dist.all_gather_object((result, error))[0]
    if error is not None:
        raise CheckpointError(error)
    return result


# -- the checkpointer ----------------------------------------------------------------


class Checkpointer:
    """Save and load a model with its optimizer, scheduler and any other checkpointables.

    Args:
        model: the ``nn.Module`` whose ``state_dict`` is saved as ``model``.
        save_dir: where checkpoints go (``train.output_dir``).
        save_to_disk: ``False`` makes :meth:`save` a no-op (e.g. evaluation runs).
        max_to_keep: keep only the newest ``max_to_keep`` numbered checkpoints
            (``model_0000999``-style names); ``None`` keeps all.
        **checkpointables: objects with ``state_dict``/``load_state_dict``, saved
            under their keyword (``optimizer=``, ``lr_scheduler=``, ``scheduler=``, ...).
    """

    def __init__(
        self,
        model: Any,
        save_dir: str = "",
        *,
        save_to_disk: bool = True,
        max_to_keep: int | None = None,
        **checkpointables: Any,
    ) -> None:
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError(f"max_to_keep must be a positive number or None, got {max_to_keep}")
        self.model = model
        self.save_dir = str(save_dir) if save_dir else ""
        self.save_to_disk = save_to_disk
        self.max_to_keep = max_to_keep
        self.checkpointables = {k: v for k, v in checkpointables.items() if v is not None}
        # name, tag_last and extra of the last successful save (on every rank)
        self.last_saved: dict | None = None
        if "model" in self.checkpointables:
            raise ValueError("'model' is the model's own entry; give the other object another name")

    def add_checkpointable(self, key: str, obj: Any) -> None:
        """Also save and load ``obj`` (which has ``state_dict``/``load_state_dict``) as ``key``."""
        if key == "model" or key in self.checkpointables:
            raise KeyError(f"a checkpointable named {key!r} is already registered")
        self.checkpointables[key] = obj

    # -- saving ----------------------------------------------------------------------

    def save(self, name: str, *, tag_last: bool = True, **extra: Any) -> str:
        """Write checkpoint ``<save_dir>/<name>/`` atomically; every rank must call it.

        ``extra`` (``iteration=``, ``consumed_samples=``, ...) is stored in ``meta.json``
        and returned by :meth:`load`. Returns the checkpoint's path.
        """
        if not self.save_dir or not self.save_to_disk:
            return ""
        if not name or os.sep in name or TMP_MARK in name:
            raise ValueError(f"checkpoint name must be a plain directory name, got {name!r}")
        extra = _json_ready(extra, name)
        final = os.path.join(self.save_dir, name)
        # Phase 1, every collective (module docstring): after it, rank 0 writes alone,
        # so a write that fails partway leaves no rank waiting in a gather.
        token = uuid.uuid4().hex[:8]
        if dist.get_world_size() > 1:
            token = dist.all_gather_object(token)[0]  # every rank writes to rank 0's path
        tmp = f"{final}{TMP_MARK}{token}"
        rng_states = dist.all_gather_object(_rng_state())
        states = {"model": self.model.state_dict()}
        states.update({k: obj.state_dict() for k, obj in self.checkpointables.items()})
        states = {key: _gather_to_rank0(state) for key, state in states.items()}

        # Phase 2: rank 0 writes, no collective.
        error: str | None = None
        if dist.is_main_process():
            meta = {
                "format": FORMAT_VERSION,
                "name": name,
                "checkpointables": sorted(states),
                "extra": extra,
                "world_size": dist.get_world_size(),
                "rng_states": rng_states,
            }
            error = self._write(name, tmp, final, token, states, meta, tag_last)
        del states  # rank 0's copy of the state, before the peers go on

        # Phase 3: one exchange of rank 0's outcome; on failure every rank raises.
        self._raise_on_every_rank(error, tmp)
        self.last_saved = {"name": name, "tag_last": tag_last, **extra}
        return final

    def _write(
        self,
        name: str,
        tmp: str,
        final: str,
        token: str,
        states: Mapping[str, Any],
        meta: dict,
        tag_last: bool,
    ) -> str | None:
        """Write checkpoint ``name`` through ``tmp`` (rank 0 only, no collective).

        Returns ``None``, or the error message naming the path that could not be written.
        """
        path = tmp
        try:
            # Leftovers of an earlier save of this name that crashed: never read, remove.
            for stale in glob.glob(glob.escape(final) + TMP_MARK + "*"):
                shutil.rmtree(stale)
            os.makedirs(tmp, exist_ok=False)
            for key, state in states.items():
                path = os.path.join(tmp, key)
                flow.save(state, path)
            path = tmp
            # meta.json is written last: a directory without it was never finished.
            meta = {**meta, "files": _manifest(tmp)}
            _write_atomic_text(os.path.join(tmp, META_FILE), json.dumps(meta))
            self._replace_dir(tmp, final, token)
            if tag_last:
                self.tag_last_checkpoint(name)
        except Exception as exc:  # flow.save raises OSError or OneFlow's RuntimeError
            return _write_error(name, getattr(exc, "filename", None) or path, exc)
        try:
            self._prune()
        except OSError as exc:  # the new checkpoint is complete: not worth failing the run
            logger.warning("could not remove an old checkpoint: %s", exc)
        logger.info("Saved checkpoint %s", final)
        return None

    @staticmethod
    def _raise_on_every_rank(error: str | None, tmp: str) -> None:
        """Raise ``error`` (rank 0's) as :class:`CheckpointError` on every rank, after
        removing the unfinished ``tmp`` directory; a no-op when there is no error.

        With several ranks this is one collective (the error message, or ``None``,
        from rank 0 to all), so it also keeps the ranks in step after a save.
        """
        if dist.get_world_size() > 1:
            error = dist.all_gather_object(error)[0]
        if error is None:
            return
        if dist.is_main_process() and os.path.isdir(tmp):
            try:
                shutil.rmtree(tmp)
            except OSError as exc:  # e.g. a read-only parent: nothing reads *.tmp-* anyway
                logger.warning("could not remove the unfinished checkpoint %s: %s", tmp, exc)
        raise CheckpointError(error)

    @staticmethod
    def _replace_dir(tmp: str, final: str, token: str) -> None:
        # os.replace cannot overwrite a non-empty directory: move the old one aside
        # first. If we die in between, _find_last still finds a complete checkpoint.
        old = None
        if os.path.exists(final):
            old = f"{final}{OLD_MARK}{token}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old)

    def tag_last_checkpoint(self, name: str) -> None:
        """Point the ``last_checkpoint`` file at ``name`` (atomically; rank 0 only)."""
        if dist.is_main_process():
            _write_atomic_text(os.path.join(self.save_dir, LAST_CHECKPOINT_FILE), name)

    def _prune(self) -> None:
        if not self.max_to_keep:
            return
        numbered = sorted(
            n for n in self._complete_checkpoints() if re.fullmatch(r".+_\d{7}", n) is not None
        )
        for old in numbered[: -self.max_to_keep]:
            shutil.rmtree(os.path.join(self.save_dir, old))
            logger.info("Removed old checkpoint %s (max_to_keep=%d)", old, self.max_to_keep)

    # -- finding checkpoints -------------------------------------------------------------

    def _complete_checkpoints(self) -> list:
        return complete_checkpoints(self.save_dir)

    def _find_last(self) -> str | None:
        return find_last_checkpoint(self.save_dir) if self.save_dir else None

    def has_checkpoint(self) -> bool:
        """Whether ``save_dir`` holds a complete checkpoint."""
        return self._find_last() is not None

    def get_checkpoint_file(self) -> str:
        """The path of the latest complete checkpoint, or ``""`` if there is none."""
        name = self._find_last()
        return os.path.join(self.save_dir, name) if name else ""

    def get_all_checkpoint_files(self) -> list:
        """Paths of all complete checkpoints in ``save_dir``, sorted by name."""
        return [os.path.join(self.save_dir, n) for n in self._complete_checkpoints()]

    @staticmethod
    def last_checkpoint_iteration(save_dir: str) -> int | None:
        """The ``iteration`` stored with the latest checkpoint in ``save_dir`` (None: no checkpoint)."""
        try:
            return last_checkpoint_iteration(save_dir)
        except CheckpointMetaError as exc:
            raise CheckpointError(str(exc)) from exc

    # -- loading ---------------------------------------------------------------------

    def resume_or_load(self, path: str | None, *, resume: bool = True) -> dict:
        """Resume from the last checkpoint in ``save_dir`` if ``resume`` and one exists;
        otherwise load only the model weights from ``path`` (nothing if ``path`` is empty).

        Returns the extra values stored with the checkpoint (``{}`` when nothing was loaded).
        """
        if resume and self.has_checkpoint():
            return self.load(self.get_checkpoint_file())
        if not path:
            logger.info("No checkpoint to load: training from scratch")
            return {}
        return self.load(path, checkpointables=[])

    def load(self, path: str, checkpointables: list | None = None) -> dict:
        """Load checkpoint ``path`` (a directory, or a name inside ``save_dir``).

        ``checkpointables=None`` loads everything and restores the RNG states (a
        resume); a list loads the model plus the named checkpointables only, so
        ``[]`` loads the weights alone (``train.load_weight``). Also accepts a bare
        ``flow.save`` directory of a model state dict. Returns the extra values.

        Raises :class:`CheckpointError` naming the file when it is missing,
        truncated or unreadable.
        """
        path = self._resolve(path)
        meta = _one_for_all(lambda: _verified_meta(path))
        if meta is None:  # a bare flow.save directory or a LiBai checkpoint without meta.json
            model_dir = path if _is_flow_dir(path) else os.path.join(path, "model")
            self._load_model(self._load_object(model_dir))
            return {}

        self._load_model(self._load_object(os.path.join(path, "model")))
        wanted = list(self.checkpointables) if checkpointables is None else list(checkpointables)
        unknown = [k for k in wanted if k not in self.checkpointables]
        if unknown:
            raise KeyError(
                f"cannot load {unknown}: the registered checkpointables are {sorted(self.checkpointables)}"
            )
        for key in wanted:
            if key not in meta["checkpointables"]:
                logger.warning(
                    "checkpoint %s has no %r state; it keeps its current state", path, key
                )
                continue
            obj = self.checkpointables[key]
            state = self._load_object(os.path.join(path, key))
            state = self._prepare_state(obj, state)
            obj.load_state_dict(state)
        if checkpointables is None:
            self._restore_rng(meta)
        logger.info(
            "Loaded checkpoint %s%s",
            path,
            "" if checkpointables is None else f" ({['model', *wanted]})",
        )
        return dict(meta.get("extra", {}))

    def _resolve(self, path: str) -> str:
        if not os.path.exists(path) and self.save_dir:
            inside = os.path.join(self.save_dir, path)
            if os.path.exists(inside):
                return inside
        if not os.path.exists(path):
            raise CheckpointError(f"checkpoint not found: {path}")
        return path

    def _load_object(self, path: str) -> Any:
        try:
            if dist.get_world_size() > 1:
                return flow.load(path, global_src_rank=0)
            return flow.load(path)
        except Exception as exc:
            raise CheckpointError(
                f"cannot read checkpoint file {path}: {type(exc).__name__}: {exc}"
            ) from exc

    def _load_model(self, state: Mapping) -> None:
        own = self.model.state_dict()
        matched = {}
        for key, value in state.items():
            if key not in own:
                continue
            if tuple(value.shape) != tuple(own[key].shape):
                logger.warning(
                    "skip loading %s: the checkpoint's shape %s differs from the model's %s",
                    key,
                    tuple(value.shape),
                    tuple(own[key].shape),
                )
                continue
            matched[key] = _match_like(value, own[key])
        missing = sorted(set(own) - set(matched))
        unexpected = sorted(set(state) - set(own))
        if missing:
            logger.warning("Parameters not found in the checkpoint: %s", missing)
        if unexpected:
            logger.warning("Checkpoint entries the model does not have: %s", unexpected)
        self.model.load_state_dict(matched, strict=False)

    @staticmethod
    def _prepare_state(obj: Any, state: Any) -> Any:
        # An optimizer over local parameters cannot take global state tensors.
        # OneFlow's own cast cannot turn a local state tensor (read in a one-process run)
        # into a global one: give each tensor its parameter's placement and sbp here.
        groups = getattr(obj, "param_groups", None)
        if not groups or not isinstance(state, dict) or not isinstance(state.get("state"), dict):
            return state
        params = [p for g in groups for p in g.parameters]
        if not params:
            return state
        if not params[0].is_global:
            return _localize(state)
        per_param = {}
        for key, value in state["state"].items():
            if isinstance(key, int) and key < len(params) and isinstance(value, dict):
                param = params[key]
                per_param[key] = {k: _state_like(v, param) for k, v in value.items()}
            else:
                per_param[key] = value
        return {**state, "state": per_param}

    @staticmethod
    def _restore_rng(meta: Mapping) -> None:
        states = meta.get("rng_states") or []
        rank = dist.get_rank()
        if len(states) != dist.get_world_size():
            logger.warning(
                "the checkpoint holds RNG states of %d process(es) but %d are running; random "
                "streams are not restored",
                len(states),
                dist.get_world_size(),
            )
            return
        _set_rng_state(states[rank])


def _is_flow_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, _PICKLE_FILE))


def _read_meta(path: str) -> dict:
    try:
        return read_meta(path)
    except CheckpointMetaError as exc:
        raise CheckpointError(str(exc)) from exc


def _verified_meta(path: str) -> dict | None:
    """The checkpoint's metadata after checking every file against the manifest.

    Returns ``None`` for a directory without ``meta.json`` that holds a bare
    ``flow.save`` state dict (or a LiBai ``model/`` subdirectory).
    """
    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path} is not a directory")
    if not os.path.exists(os.path.join(path, META_FILE)):
        if _is_flow_dir(path) or _is_flow_dir(os.path.join(path, "model")):
            return None
        raise CheckpointError(
            f"{path} is not a checkpoint: it has no {META_FILE} (an interrupted save?) and no "
            f"model state"
        )
    meta = _read_meta(path)
    for rel, size in meta["files"].items():
        file = os.path.join(path, rel)
        if not os.path.isfile(file):
            raise CheckpointError(f"checkpoint file missing: {file}")
        actual = os.path.getsize(file)
        if actual != size:
            raise CheckpointError(
                f"checkpoint file {file} is truncated or corrupt: {actual} bytes, expected {size}"
            )
    return meta
