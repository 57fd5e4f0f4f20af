"""Compile the shim (``lazy_job_queue.c``) once per liboneflow build and C source, into a cache.

The compiled library lives in ``$LIBAI_CACHE_DIR/graph-race-fix/<build id>-<hash>/``
(default ``~/.cache/libai``), keyed by liboneflow's build id and by the hash of the
source and compiler flags, so an edited source or another OneFlow build never reuses a
stale library. It is compiled into a temporary file beside its final name and renamed,
so processes that build at once (the ranks of a launcher) never load a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

__all__ = ["SOURCE", "ShimBuildError", "build_shim", "cache_dir", "find_compiler"]

SOURCE = Path(__file__).with_name("lazy_job_queue.c")
_FLAGS = ["-shared", "-fPIC", "-O2", "-fexceptions", "-pthread"]
_LIBS = ["-ldl"]
_COMPILE_TIMEOUT_S = 300


class ShimBuildError(RuntimeError):
    """The shim could not be compiled or stored; the message says why and what would help."""


def cache_dir() -> Path:
    """``$LIBAI_CACHE_DIR/graph-race-fix`` (default ``~/.cache/libai/graph-race-fix``)."""
    base = os.environ.get("LIBAI_CACHE_DIR") or "~/.cache/libai"
    return Path(base).expanduser() / "graph-race-fix"


def find_compiler() -> Optional[list[str]]:
    """The C compiler command: ``$CC`` when set, else ``cc`` or ``gcc`` on PATH; None if none."""
    cc = os.environ.get("CC")
    if cc:
        return shlex.split(cc)
    for name in ("cc", "gcc"):
        found = shutil.which(name)
        if found:
            return [found]
    return None


def build_shim(build_id: str, directory: Optional[Path] = None) -> tuple[Path, bool]:
    """Return ``(path, compiled_now)`` of the shim for liboneflow ``build_id``; compile it if needed.

    Raises :class:`ShimBuildError` when no C compiler exists, the compiler fails, or
    the cache directory cannot be written.
    """
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(_FLAGS + _LIBS).encode()).hexdigest()[:12]
    target = (directory or cache_dir()) / f"{build_id}-{key}" / "lazy_job_queue.so"
    if target.is_file():
        return target, False
    compiler = find_compiler()
    if compiler is None or shutil.which(compiler[0]) is None:
        which = (
            f"the compiler {compiler[0]!r} (from CC) was not found"
            if compiler
            else "no C compiler found"
        )
        raise ShimBuildError(
            f"{which}; set CC or install gcc (apt-get install gcc) to build {SOURCE.name}"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".lazy_job_queue-", suffix=".so", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise ShimBuildError(
            f"cannot write the compiled shim under {target.parent}: {exc}; set LIBAI_CACHE_DIR "
            "to a writable directory"
        ) from exc
    cmd = [*compiler, *_FLAGS, "-o", tmp, str(SOURCE), *_LIBS]
    try:
        proc = _run(cmd)
        if proc.returncode != 0:
            raise ShimBuildError(
                f"compiling {SOURCE} failed (exit {proc.returncode}): {shlex.join(cmd)}\n"
                f"{proc.stderr.strip()[-2000:]}"
            )
        os.replace(tmp, target)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ShimBuildError(f"compiling {SOURCE} failed: {shlex.join(cmd)}: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, True


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run the compiler in its own process group; kill the whole group on timeout."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=_COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
