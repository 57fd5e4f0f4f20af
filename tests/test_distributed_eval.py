"""Evaluation on data-parallel ranks counts every test sample exactly once (DESIGN.md 9).

81 numbered samples, test micro batch 4: one process runs 21 batches (the last holds
one sample), two ranks run 11 global batches of 8 each (the last holds one sample and
seven copies of it, which the evaluation drops). Both runs must see samples 0..80 once
each and agree on every prediction; before, rank 0 ran an 11th batch that rank 1 never
joined and the run hung.
"""

from __future__ import annotations

import re
from pathlib import Path

from libai.engine.testing import (
    check_ok,
    engine_command,
    launcher_command,
    run_process,
    subprocess_env,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIG = str(FIXTURES / "uneven_eval.py")


def _results(out: Path) -> dict[str, float]:
    log = (out / "log.txt").read_text()
    return {k: float(v) for k, v in re.findall(r"copypaste: (\w+)=([\d.]+)", log)}


def test_two_ranks_evaluate_81_samples_like_one_process(tmp_path: Path) -> None:
    env = subprocess_env([FIXTURES])
    one, two = tmp_path / "one", tmp_path / "two"
    check_ok(
        run_process(
            engine_command("run", CONFIG, "--eval-only", f"train.output_dir={one}"),
            cwd=ROOT,
            env=env,
        )
    )
    check_ok(
        run_process(
            lambda: launcher_command(
                2,
                "libai.engine.cli",
                "run",
                CONFIG,
                "--eval-only",
                f"train.output_dir={two}",
                "train.dist.data_parallel_size=2",
                module=True,
            ),  # fmt: skip
            cwd=ROOT,
            env=env,
            timeout=400,
        )
    )
    expected = {"samples": 81, "distinct": 81, "id_sum": sum(range(81))}
    single, ranks = _results(one), _results(two)
    assert {k: single[k] for k in expected} == expected
    assert {k: ranks[k] for k in expected} == expected
    assert ranks["correct"] == single["correct"]
    assert "Inference on 21 batches (81 samples)" in (one / "log.txt").read_text()
    assert "Inference on 11 batches (81 samples)" in (two / "log.txt").read_text()
