"""A/B of libai-config at two (or more) git revisions, in one sitting.

Run from the repository root with the dev venv:

    .tox/full/bin/python benchmarks/config_ab.py 124aebd HEAD [--rounds 3] [--repeat 5]
    .tox/full/bin/python benchmarks/config_ab.py 124aebd HEAD --instructions

Each revision's ``packages/libai-config`` is extracted with ``git archive`` and
put first on ``PYTHONPATH`` of a fresh interpreter (the child checks that
``libai.config`` is imported from there, not from an install). The revisions
are measured alternately, ``--rounds`` times, so that a change in the
machine's load hits all of them alike. Rows (CPU time, median of ``--repeat``):
``import libai.config`` (process minus an empty interpreter), a later load of
config_bench's 30-file config, save + reload of it, and omegaconf's own
``to_container`` of 2,000 LazyCall nodes, the machine's yardstick.

On a shared machine the CPU time of one piece of code still varies with what
else runs (caches and cores are shared), and not by the same factor for every
workload. ``--instructions`` counts instead the instructions each operation
executes, under valgrind's cachegrind (slow: minutes per revision), which does
not depend on the load at all: two runs per row, with 0 and 2 repetitions after
the same set-up, and the difference halved.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ("load", "save_reload", "omegaconf")


def extract(rev: str, dest: Path) -> Path:
    """``packages/libai-config`` at ``rev`` under ``dest``; return its ``src``."""
    tar = subprocess.run(
        ["git", "archive", rev, "packages/libai-config"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest)
    return dest / "packages" / "libai-config" / "src"


def run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group; kill the group on timeout."""
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited {proc.returncode}:\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def env_for(src: Path | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


# -- the child: one revision, one process ---------------------------------------


def _setup(operation: str, tmp: Path):
    """The callable that performs ``operation`` once, after a first warm-up call."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import config_bench
    from libai.config import LazyConfig
    from omegaconf import OmegaConf

    exp = config_bench.write_tree(tmp / "configs")
    if operation == "load":
        fn = lambda: LazyConfig.load(exp)  # noqa: E731
    elif operation == "save_reload":
        cfg, out = LazyConfig.load(exp), tmp / "config.yaml"
        fn = lambda: (LazyConfig.save(cfg, out), LazyConfig.load(out))  # noqa: E731
    else:
        big = config_bench.instantiate_cfg()
        fn = lambda: OmegaConf.to_container(big, resolve=True)  # noqa: E731
    fn()
    return fn


def child(src: str, repeat: int, count: str | None) -> None:
    import libai.config

    if not libai.config.__file__.startswith(src):
        raise SystemExit(f"libai.config came from {libai.config.__file__}, not from {src}")
    with tempfile.TemporaryDirectory() as tmp:
        if count is not None:  # under cachegrind: set up, then run `repeat` times
            fn = _setup(count, Path(tmp))
            for _ in range(repeat):
                fn()
            return
        result = {}
        for operation in OPERATIONS:
            fn = _setup(operation, Path(tmp) / operation)
            cpu = []
            for _ in range(repeat):
                start = time.process_time()
                fn()
                cpu.append((time.process_time() - start) * 1000)
            result[operation] = statistics.median(cpu)
    print(json.dumps(result))


# -- the parent ------------------------------------------------------------------


def import_cpu(src: Path, repeat: int) -> float:
    """Median CPU ms of ``import libai.config`` in a fresh process, minus an empty one."""

    def children_cpu() -> float:
        t = os.times()
        return t.children_user + t.children_system

    costs = []
    for _ in range(repeat):
        c0 = children_cpu()
        run([sys.executable, "-c", "import libai.config"], env_for(src), 300)
        c1 = children_cpu()
        run([sys.executable, "-c", "pass"], env_for(None), 300)
        c2 = children_cpu()
        costs.append(((c1 - c0) - (c2 - c1)) * 1000)
    return statistics.median(costs)


def instructions(cmd: list[str], env: dict[str, str]) -> int:
    valgrind = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
    ]
    out = run(valgrind + cmd, env, 3600)
    match = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def count_rows(src: Path) -> dict[str, float]:
    """Millions of instructions per operation, and for the import."""
    env, me = env_for(src), [sys.executable, __file__, "--child", str(src)]
    rows = {
        "import": (
            instructions([sys.executable, "-c", "import libai.config"], env)
            - instructions([sys.executable, "-c", "pass"], env_for(None))
        )
        / 1e6
    }
    for operation in OPERATIONS:
        base = instructions(me + ["--repeat", "0", "--count", operation], env)
        two = instructions(me + ["--repeat", "2", "--count", operation], env)
        rows[operation] = (two - base) / 2 / 1e6
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="*", help="git revisions (default: 124aebd HEAD)")
    parser.add_argument("--src", action="append", default=[], help="also a libai-config src dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--count", choices=OPERATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat, args.count)
        return

    tmp = Path(tempfile.mkdtemp(prefix="config_ab_"))
    try:
        versions = {rev: extract(rev, tmp / rev) for rev in (args.revs or ["124aebd", "HEAD"])}
        versions.update({src: Path(src).resolve() for src in args.src})
        if args.instructions:
            if shutil.which("valgrind") is None:
                raise SystemExit("--instructions needs valgrind on PATH")
            print("| version | import | load | save + reload | omegaconf's read |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for name, src in versions.items():
                r = count_rows(src)
                print(
                    f"| {name} | {r['import']:.0f} M | {r['load']:.0f} M "
                    f"| {r['save_reload']:.0f} M | {r['omegaconf']:.0f} M |"
                )
            return
        print(
            f"load average {os.getloadavg()[0]:.1f} at the start; CPU ms, median of {args.repeat}"
        )
        print(
            "| round | version | import | load | save + reload | omegaconf's read | load / read |"
        )
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for round_ in range(1, args.rounds + 1):
            for name, src in versions.items():
                imp = import_cpu(src, args.repeat)
                cmd = [sys.executable, __file__, "--child", str(src), "--repeat", str(args.repeat)]
                r = json.loads(run(cmd, env_for(src), 1800).stdout)
                print(
                    f"| {round_} | {name} | {imp:.0f} | {r['load']:.1f} | {r['save_reload']:.1f} "
                    f"| {r['omegaconf']:.1f} | {r['load'] / r['omegaconf']:.2f} |",
                    flush=True,
                )
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
