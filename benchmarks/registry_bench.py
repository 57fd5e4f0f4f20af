"""Registry and CLI start-up benchmarks.

1. Listing the registry with 100 installed plugin distributions versus none.
   The distributions are ``*.dist-info`` directories (METADATA and
   entry_points.txt, what pip leaves) in a temporary site directory put on
   PYTHONPATH; each has three entries (models, optimizers, datasets). Each
   measurement is a fresh interpreter timing ``get_registry().list()`` (the
   work ``list`` does), so importlib-metadata's caches start cold.
2. Wall-clock time of ``libai-engine --help`` and ``python -m libai.config --help``.

Run with the dev venv::

    .tox/full/bin/python benchmarks/registry_bench.py [--repeat 15]

Targets (the registry issue): listing with 100 distributions costs under
50 ms more than with none; ``libai-engine --help`` under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The import of libai.config costs the same with or without plugins; time the
# registry build and listing (scan, plugin modules, entries) after it.
PROBE = (
    "import time;"
    "from libai.config.registry import get_registry;"
    "t0 = time.perf_counter();"
    "n = len(get_registry().list());"
    "print(n, time.perf_counter() - t0)"
)


def make_site(root: Path, count: int) -> Path:
    """``count`` metadata-only plugin distributions under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        info = root / f"libai_models_bench{i:03d}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: libai-models-bench{i:03d}\nVersion: 1.0\n",
            encoding="utf-8",
        )
        (info / "entry_points.txt").write_text(
            f"[libai.models]\nbench{i:03d} = libai_models_bench{i:03d}.model:Model\n\n"
            f"[libai.optimizers]\nbench_opt{i:03d} = libai_models_bench{i:03d}.optim:Opt\n\n"
            f"[libai.datasets]\nbench_data{i:03d} = libai_models_bench{i:03d}.data:Data\n",
            encoding="utf-8",
        )
    return root


def list_once(site: Path | None) -> tuple[int, float]:
    """Entries listed and seconds taken, in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), float(out[1])


def time_listing(
    site: Path, repeat: int
) -> tuple[tuple[int, list[float]], tuple[int, list[float]]]:
    """Without and with ``site``, interleaved so that load on the machine hits both alike."""
    base: list[float] = []
    many: list[float] = []
    base_n = many_n = 0
    for _ in range(repeat):
        base_n, seconds = list_once(None)
        base.append(seconds)
        many_n, seconds = list_once(site)
        many.append(seconds)
    return (base_n, base), (many_n, many)


def time_command(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:.1f} ms (min {min(values) * 1e3:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="libai-registry-bench-"))
    try:
        site = make_site(tmp / "site", args.count)
        (base_n, base), (many_n, many) = time_listing(site, args.repeat)
        extra = statistics.median(many) - statistics.median(base)
        print(f"listing, no extra distributions ({base_n} entries): {ms(base)}")
        print(f"listing, {args.count} plugin distributions ({many_n} entries): {ms(many)}")
        print(f"extra cost of {args.count} distributions: {extra * 1e3:.1f} ms (target < 50 ms)")
    finally:
        shutil.rmtree(tmp)

    bindir = Path(sys.executable).parent
    engine = shutil.which("libai-engine", path=str(bindir))
    if engine:
        print(
            f"libai-engine --help: {ms(time_command([engine, '--help'], args.repeat))} (target < 300 ms)"
        )
    print(
        "python -m libai.config --help: "
        f"{ms(time_command([sys.executable, '-m', 'libai.config', '--help'], args.repeat))}"
    )
    print(
        f"python -c pass (interpreter start): {ms(time_command([sys.executable, '-c', 'pass'], args.repeat))}"
    )


if __name__ == "__main__":
    main()
