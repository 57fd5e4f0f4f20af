"""``llama/sft.py``: found by get_config, passes ``libai-engine check``, and trains.

The training test runs the experiment as a user does (``libai-engine run``) for a few
steps, in its own process group, and reads what the run left: the losses in
``metrics.json`` and the held-out scores in ``instruction_accuracy.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from libai.config import get_config
from libai.config.get_config import find_config
from libai.engine.testing import run_process, subprocess_env
from libai_llama.alpaca import AlpacaDataset
from libai_llama.data import HELDOUT_PATH, TOKENIZER_DIR, TRAIN_PATH
from libai_llama.tokenizer import LlamaTokenizer

HERE = Path(__file__).resolve().parent
ENGINE = Path(sys.executable).parent / "libai-engine"


def run_engine(*args: str) -> subprocess.CompletedProcess:
    """``libai-engine ARGS`` as a user runs it (stdout and stderr together in ``.stdout``),
    in its own process group; paths in ``args`` must be absolute."""
    return run_process(
        [str(ENGINE), *args], cwd=HERE, env=subprocess_env([HERE]), timeout=900, merge_stderr=True
    )


def test_found_by_get_config_with_the_bundled_data() -> None:
    cfg = get_config("llama/sft.py")
    assert cfg.dataloader.train.dataset[0]._target_ == "datasets:alpaca"
    assert Path(cfg.dataloader.train.dataset[0].path) == TRAIN_PATH
    assert Path(cfg.train.hooks[0].path) == HELDOUT_PATH
    assert Path(cfg.tokenization.tokenizer.pretrained_model_path) == TOKENIZER_DIR
    assert cfg.model._target_ == "models:llama" and cfg.model.cfg.pretrained_model_path is None


def test_passes_libai_engine_check() -> None:
    path = find_config("llama/sft.py")
    proc = run_engine("check", str(path))
    assert proc.returncode == 0, proc.stdout
    assert "OK" in proc.stdout


def test_check_reports_a_misspelt_llama_cfg_key_before_building(tmp_path) -> None:
    cfg_file = tmp_path / "typo.py"
    cfg_file.write_text(
        "from libai.config import get_config\n"
        "_sft = get_config('llama/sft.py')\n"
        "model, train, optim, graph = _sft.model, _sft.train, _sft.optim, _sft.graph\n"
        "dataloader, tokenization = _sft.dataloader, _sft.tokenization\n"
        "model.cfg.hiden_size = 64\n"
    )
    proc = run_engine("check", str(cfg_file))
    assert proc.returncode == 2, proc.stdout
    assert "model.cfg.hiden_size" in proc.stdout
    assert "did you mean hidden_size?" in proc.stdout


def test_model_ids_and_length_fit_the_tokenizer_and_data() -> None:
    cfg = get_config("llama/sft.py")
    tok = LlamaTokenizer(pretrained_model_path=TOKENIZER_DIR)
    assert (cfg.model.cfg.bos_token_id, cfg.model.cfg.eos_token_id, cfg.model.cfg.pad_token_id) == (
        tok.bos_token_id,
        tok.eos_token_id,
        tok.pad_token_id,
    )
    assert len(tok) <= tok.padded_vocab_size(cfg.tokenization.make_vocab_size_divisible_by)
    max_length = cfg.dataloader.train.dataset[0].max_length
    assert cfg.model.cfg.max_position_embeddings >= max_length
    for path in (TRAIN_PATH, HELDOUT_PATH):
        ds = AlpacaDataset(path, tok, max_length=max_length)
        # No bundled record is truncated.
        longest = max(sum(map(len, ds.tokens(i))) for i in range(len(ds)))
        assert longest <= max_length + 1, (path, longest)


def test_a_short_run_lowers_the_loss_and_scores_held_out_records(tmp_path) -> None:
    out = tmp_path / "sft"
    proc = run_engine(
        "run",
        str(find_config("llama/sft.py")),
        f"train.output_dir={out}",
        "train.train_iter=30",
        "train.log_period=5",
        "train.hooks.0.max_records=8",
    )
    assert proc.returncode == 0, proc.stdout[-5000:]
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    losses = [row["lm_loss"] for row in rows if "lm_loss" in row]
    assert len(losses) >= 20
    # Starts at the uniform guess over the padded vocabulary (ln 512 = 6.24), then falls.
    assert abs(losses[0] - 6.24) < 0.3
    assert sum(losses[-5:]) / 5 < losses[0] - 1.5
    scores = json.loads((out / "instruction_accuracy.json").read_text())
    assert scores["before"]["total"] == scores["after"]["total"] == 8
    assert all(
        set(a) >= {"instruction", "output", "answer", "correct"} for a in scores["after"]["answers"]
    )
    assert "held-out exact match after training" in proc.stdout
    assert (out / "model_final").is_dir()
