"""LiBai's three headline experiment configs train on the CPU with LiBai users' overrides.

A user coming from LiBai runs ``gpt2_pretrain.py``, ``bert_large_pretrain.py`` and
``swin_cifar100.py`` as they are, with the overrides that put a run on the CPU:
``train.dist.device_type=cpu`` (a setting the engine reads, with a default in
``common/train.py``), ``dataloader.test.0.num_workers=0`` (an argument of the
loader builder that the config does not spell out), ``train.train_iter=3``.
Each config is LiBai's file (the same relative imports of ``configs/common``,
the same statements) with only its sizes made tiny; the data each one reads
is generated here (a Megatron indexed dataset and tokenizer files for GPT-2
and BERT, the CIFAR-100 python release for Swin). Each run must pass
``libai-engine check`` and train three iterations with finite losses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("libai.engine")
pytest.importorskip("libai.models")
pytest.importorskip("libai.data")

from libai.engine.testing import run_process, subprocess_env
from test_libai_compat import LIBAI_COMMON, LIBAI_EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
ENGINE = Path(sys.executable).with_name("libai-engine")
TOKENIZER_FIXTURES = ROOT / "packages" / "libai-data" / "tests" / "fixtures"

# The overrides LiBai's docs give for a one-process CPU run, plus a short run.
CPU = [
    "train.dist.device_type=cpu",
    "train.train_iter=3",
    "train.log_period=1",
    "train.amp.enabled=False",  # AMP has no CPU kernels (shared/DESIGN.md section 5)
    "graph.enabled=False",
]

# LiBai's experiment files (test_libai_compat.LIBAI_EXPERIMENTS, and the repository's
# port of swin_cifar100.py), with only their sizes made tiny and their data paths
# pointed at the generated data: (source, {text: replacement}).
TINY = {
    "gpt2_pretrain.py": (
        LIBAI_EXPERIMENTS["gpt2_pretrain.py"],
        {
            "model.cfg.num_attention_heads = 16": "model.cfg.num_attention_heads = 2",
            "model.cfg.hidden_size = 384": "model.cfg.hidden_size = 32",
            "model.cfg.ffn_hidden_size = 1536": "model.cfg.ffn_hidden_size = 64",
            "model.cfg.hidden_layers = 6": "model.cfg.hidden_layers = 2",
            "model.cfg.max_seq_length = 1024": "model.cfg.max_seq_length = 32",
            "train.train_micro_batch_size = 4": "train.train_micro_batch_size = 2",
        },
    ),
    "bert_large_pretrain.py": (
        LIBAI_EXPERIMENTS["bert_large_pretrain.py"],
        {
            "model.cfg.num_attention_heads = 16": "model.cfg.num_attention_heads = 2",
            "model.cfg.hidden_size = 768": "model.cfg.hidden_size = 32",
            "model.cfg.hidden_layers = 8": "model.cfg.hidden_layers = 2",
            "train.train_micro_batch_size = 16": "train.train_micro_batch_size = 2",
        },
    ),
    "swin_cifar100.py": (
        (ROOT / "configs" / "swin_cifar100.py").read_text(encoding="utf-8"),
        {
            "model.cfg.num_classes = 100\n": "model.cfg.num_classes = 100\n"
            "model.cfg.update(embed_dim=12, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])\n"
            'dataloader.train.dataset[0].root = "./data_test/cifar"\n'
            'dataloader.test[0].dataset.root = "./data_test/cifar"\n',
            "train.train_micro_batch_size = 32": "train.train_micro_batch_size = 2",
            "train.test_micro_batch_size = 32": "train.test_micro_batch_size = 2",
        },
    ),
}


def _tokenizer_fixtures():
    spec = importlib.util.spec_from_file_location(
        "make_tokenizer_fixtures", TOKENIZER_FIXTURES / "make_tokenizer_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _write_configs(root: Path) -> Path:
    configs = root / "configs"
    for rel, text in LIBAI_COMMON.items():
        path = configs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for name, (source, replacements) in TINY.items():
        text = textwrap.dedent(source)
        for old, replacement in replacements.items():
            assert text.count(old) == 1, f"{name} no longer holds {old!r} once"
            text = text.replace(old, replacement)
        (configs / name).write_text(text, encoding="utf-8")
    return configs


def _write_indexed(prefix: Path, documents: list[list[list[int]]], vocab_size: int) -> None:
    """A Megatron mmap dataset: each document a list of sentences of token ids."""
    from libai.data.data_utils import make_builder

    prefix.parent.mkdir(parents=True, exist_ok=True)
    builder = make_builder(f"{prefix}.bin", "mmap", vocab_size=vocab_size)
    for sentences in documents:
        for sentence in sentences:
            builder.add_item(np.array(sentence, dtype=np.int64))
        builder.end_document()
    builder.finalize(f"{prefix}.idx")


def _gpt2_data(root: Path) -> None:
    folder = root / "data_test" / "gpt_data"
    folder.mkdir(parents=True)
    vocab, merges = _tokenizer_fixtures().write_bpe_files(str(folder))
    os.replace(vocab, folder / "gpt2-vocab.json")
    os.replace(merges, folder / "gpt2-merges.txt")
    size = len(json.loads((folder / "gpt2-vocab.json").read_text(encoding="utf-8")))
    rng = np.random.RandomState(0)
    docs = [[list(rng.randint(0, size - 1, size=120))] for _ in range(40)]
    _write_indexed(folder / "loss_compara_content_sentence", docs, size)


def _bert_data(root: Path) -> None:
    folder = root / "data_test" / "bert_data"
    folder.mkdir(parents=True)
    vocab = _tokenizer_fixtures().write_bert_vocab(str(folder))
    os.replace(vocab, folder / "bert-base-chinese-vocab.txt")
    tokens = (folder / "bert-base-chinese-vocab.txt").read_text(encoding="utf-8").split("\n")
    words = [i for i, t in enumerate(tokens) if t and not t.startswith("[") and "##" not in t]
    rng = np.random.RandomState(1)
    docs = [
        [list(rng.choice(words, size=7)) for _ in range(6)]  # six sentences per document
        for _ in range(300)
    ]
    _write_indexed(folder / "loss_compara_content_sentence", docs, len(tokens))


def _cifar_data(root: Path) -> None:
    folder = root / "data_test" / "cifar" / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(2)
    for split, n in (("train", 16), ("test", 8)):
        data = rng.randint(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(x) for x in rng.randint(0, 100, size=n)]
        with open(folder / split, "wb") as f:
            pickle.dump({"data": data, "fine_labels": labels, "coarse_labels": labels}, f)


def _engine(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``libai-engine ARGS`` in its own process group, killed with the group on timeout."""
    return run_process([str(ENGINE), *args], cwd=cwd, env=subprocess_env(), timeout=timeout)


RUNS = {
    # config, data writer, LiBai's CPU overrides for it
    "gpt2_pretrain.py": (
        _gpt2_data,
        [
            "dataloader.train.num_workers=0",
            "dataloader.test.0.num_workers=0",  # not spelt out in the config: the builder's
            "dataloader.test.0.dataset.max_seq_length=32",  # the tiny model's length
            "train.evaluation.eval_iter=2",
        ],
    ),
    "bert_large_pretrain.py": (
        _bert_data,
        ["dataloader.train.num_workers=0", "train.evaluation.enabled=False"],
    ),
    "swin_cifar100.py": (
        _cifar_data,
        [
            "dataloader.train.num_workers=0",
            "dataloader.test.0.num_workers=0",
            "train.evaluation.eval_iter=1",
            "train.train_epoch=0",  # the config's 300 epochs would outlast train_iter
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_libai_config_checks_and_trains_three_iterations_on_the_cpu(
    name: str, tmp_path: Path
) -> None:
    write_data, extra = RUNS[name]
    configs = _write_configs(tmp_path)
    write_data(tmp_path)
    out = tmp_path / "out"
    overrides = [*CPU, *extra, f"train.output_dir={out}"]
    config = str(configs / name)

    check = _engine(["check", config, *overrides], tmp_path, timeout=600)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-3000:]

    run = _engine(["run", config, *overrides], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]

    saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert saved["train"]["dist"]["device_type"] == "cpu"
    assert saved["train"]["train_iter"] == 3
    assert saved["dataloader"]["train"]["num_workers"] == 0
    if "dataloader.test.0.num_workers=0" in extra:
        assert saved["dataloader"]["test"][0]["num_workers"] == 0
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line]
    losses = {row["iteration"]: row["total_loss"] for row in rows if "total_loss" in row}
    assert sorted(losses) == [0, 1, 2], rows
    assert all(math.isfinite(v) and v > 0 for v in losses.values()), losses


def test_a_misspelt_cfg_key_and_a_mistyped_value_stop_the_run_before_anything_is_built(
    tmp_path: Path,
) -> None:
    """``configs/quickstart.py`` with ``hiden_layers=2`` (one letter off) and ``optim.lr=abc``."""
    source = (ROOT / "configs" / "quickstart.py").read_text(encoding="utf-8")
    assert "    hidden_layers=2,\n" in source
    config = tmp_path / "quickstart_typo.py"
    config.write_text(source.replace("    hidden_layers=2,\n", "    hiden_layers=2,\n"), "utf-8")
    out = tmp_path / "out"
    run = _engine(["run", str(config), "optim.lr=abc", f"train.output_dir={out}"], tmp_path, 600)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-3000:]
    assert "model.cfg.hiden_layers: " in run.stderr and "did you mean hidden_layers?" in run.stderr
    assert "optim.lr: expected float, got 'abc'" in run.stderr
    assert not out.exists()  # nothing was built, not even the output directory
