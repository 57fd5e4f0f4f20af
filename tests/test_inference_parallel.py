"""``libai-engine generate`` under OneFlow's launcher: 2 CPU processes, tensor parallel 2
or pipeline parallel 2, GPT-2 and T5, print the ids of one process, once.

The models are the trained tiny Hugging Face GPT-2 and T5 of libai-models' generation
fixtures; greedy and 4-beam search both run, so the beam search's cache reordering is
exercised on split (tensor parallel) and staged (pipeline parallel) caches.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from libai.engine.testing import launcher_command
from test_inference import GPT2_CONFIG, GPT2_DIR, T5_CONFIG, T5_DIR, _engine, _write, run_in_group

PROMPTS = ["MACBETH:\n", "First Witch:\nWhen shall we three meet"]
LAYOUTS = {
    "tp2": ["train.dist.tensor_parallel_size=2"],
    "pp2": ["train.dist.pipeline_parallel_size=2"],
}
MODELS = {
    "gpt2": (GPT2_CONFIG, GPT2_DIR, []),
    # T5's layer indices count both stacks: 2 encoder + 2 decoder layers
    "t5": (T5_CONFIG, T5_DIR, ["train.dist.pipeline_num_layers=4"]),
}


def _args(cfg: Path, model_dir: Path) -> list:
    args = ["generate", str(cfg), "--mode", "huggingface", "--model-path", str(model_dir)]
    for prompt in PROMPTS:
        args += ["--prompt", prompt]
    return [*args, "--max-new-tokens", "12", "--json"]


def _launch(args: list, cwd: Path) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).parent / "libai-engine")
    # a callable: a fresh port for each attempt
    return run_in_group(partial(launcher_command, 2, exe, *map(str, args)), cwd)


def _rows(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    """One-process outputs of each model, greedy and beam."""
    tmp = tmp_path_factory.mktemp("single")
    results = {}
    for name, (text, model_dir, _) in MODELS.items():
        cfg = _write(tmp, f"{name}.py", text)
        for search, extra in (("greedy", []), ("beam", ["--num-beams", "4"])):
            proc = _engine([*_args(cfg, model_dir), *extra], tmp)
            assert proc.returncode == 0, proc.stderr[-3000:]
            results[name, search] = _rows(proc.stdout)
            assert len(results[name, search]) == len(PROMPTS)
    return results


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_two_processes_print_the_one_process_ids_once(single, tmp_path, name, layout) -> None:
    text, model_dir, extra_overrides = MODELS[name]
    cfg = _write(tmp_path, f"{name}.py", text)
    overrides = LAYOUTS[layout] + (extra_overrides if layout == "pp2" else [])
    for search, extra in (("greedy", []), ("beam", ["--num-beams", "4"])):
        proc = _launch([*_args(cfg, model_dir), *extra, *overrides], tmp_path)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        rows = _rows(proc.stdout)
        assert rows == single[name, search], f"{layout} {search}"  # once each, in order
