"""The registry with every package installed (shared/DESIGN.md section 3).

What each distribution contributes is read from the installed entry points, and
every entry of every group is resolved to its target, timm-style: the test
parametrizes over the registry's own listing, so a new entry is checked without
editing this file. Only the names that DESIGN.md and CONTRACTS.md promise are
spelled out. The CLI is run in subprocesses, as a user runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from libai.config.registry import Entry, build_registry

ROOT = Path(__file__).resolve().parents[1]

# The listing at collection time reads metadata only (no component is imported).
ENTRIES: list[Entry] = build_registry().list()

# (group, name) -> the distribution that must contribute it (DESIGN.md 3, CONTRACTS.md).
PROMISED = {
    ("optimizers", "AdamW"): "libai-engine",
    ("optimizers", "Adam"): "libai-engine",
    ("optimizers", "SGD"): "libai-engine",
    ("optimizers", "LAMB"): "libai-engine",
    ("schedulers", "WarmupCosineLR"): "libai-engine",
    ("schedulers", "WarmupCosineAnnealingLR"): "libai-engine",
    ("schedulers", "WarmupMultiStepLR"): "libai-engine",
    ("schedulers", "WarmupExponentialLR"): "libai-engine",
    ("schedulers", "WarmupPolynomialLR"): "libai-engine",
    ("evaluators", "ClsEvaluator"): "libai-engine",
    ("evaluators", "PPLEvaluator"): "libai-engine",
    ("models", "BertModel"): "libai-models",
    ("models", "GPTForPreTraining"): "libai-models",
    ("models", "bert"): "libai-models",
    ("models", "gpt"): "libai-models",
    ("models", "t5"): "libai-models",
    ("models", "roberta"): "libai-models",
    ("models", "vit"): "libai-models",
    ("models", "swin"): "libai-models",
    ("models", "swinv2"): "libai-models",
    ("models", "resmlp"): "libai-models",
    ("tokenizers", "BertTokenizer"): "libai-data",
    ("tokenizers", "GPT2Tokenizer"): "libai-data",
    ("datasets", "GPT2Dataset"): "libai-data",
    ("datasets", "gpt"): "libai-data",
    ("datasets", "bert"): "libai-data",
    ("datasets", "roberta"): "libai-data",
    ("datasets", "t5"): "libai-data",
    ("models", "tiny_mlp"): "libai-models-example",
}

# The short aliases name the same class as the LiBai class name (DESIGN.md 3).
ALIASES = {
    ("models", "bert"): "BertModel",
    ("models", "gpt"): "GPTModel",
    ("models", "t5"): "T5Model",
    ("models", "roberta"): "RobertaModel",
    ("models", "vit"): "VisionTransformer",
    ("models", "swin"): "SwinTransformer",
    ("models", "swinv2"): "SwinTransformerV2",
    ("models", "resmlp"): "ResMLP",
    ("datasets", "gpt"): "GPT2Dataset",
    ("datasets", "bert"): "BertDataset",
    ("datasets", "roberta"): "RobertaDataset",
    ("datasets", "t5"): "T5Dataset",
}

PLUGIN_DISTRIBUTIONS = ("libai-config", "libai-models", "libai-data", "libai-models-example")


def _cli(*args: str, module: str = "libai.config") -> subprocess.CompletedProcess:
    env = dict(os.environ, GLOG_minloglevel="2")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _engine(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("libai-engine", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("libai-engine is not installed next to this Python")
    env = dict(os.environ, GLOG_minloglevel="2")
    return subprocess.run(
        [exe, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _json(proc: subprocess.CompletedProcess):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def config_listing() -> list[dict]:
    return _json(_cli("list", "--json"))


@pytest.fixture(scope="module")
def engine_listing() -> list[dict]:
    return _json(_engine("list", "--json"))


@pytest.fixture(scope="module")
def plugins_report() -> dict:
    return _json(_engine("plugins", "--json"))


def test_the_listing_is_not_empty_and_has_no_conflicts() -> None:
    assert len(ENTRIES) >= len(PROMISED)
    conflicts = build_registry().conflicts()
    assert conflicts == [], [[e.qualified_reference for e in group] for group in conflicts]


@pytest.mark.parametrize(
    ("group", "name", "dist"),
    [(g, n, d) for (g, n), d in sorted(PROMISED.items())],
    ids=[f"{g}:{n}" for (g, n) in sorted(PROMISED)],
)
def test_promised_entries_come_from_their_distribution(group: str, name: str, dist: str) -> None:
    found = [e for e in ENTRIES if e.group == group and e.name == name]
    assert found, f"{group}:{name} is not registered (expected from {dist})"
    assert [e.dist for e in found] == [dist]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.reference for e in ENTRIES])
def test_every_entry_resolves_to_a_callable(entry: Entry) -> None:
    target = entry.load()
    assert callable(target), f"{entry.reference} -> {entry.value} is {type(target).__name__}"
    # The reference and the distribution-qualified reference resolve to the same object.
    from libai.config.registry import get_registry

    assert get_registry().resolve(entry.reference) is target
    assert get_registry().resolve(entry.qualified_reference) is target


@pytest.mark.parametrize(
    ("alias", "class_name"),
    sorted(ALIASES.items()),
    ids=[f"{g}:{n}" for (g, n) in sorted(ALIASES)],
)
def test_short_aliases_name_the_libai_class(alias: tuple[str, str], class_name: str) -> None:
    from libai.config.registry import get_registry

    group, name = alias
    target = get_registry().resolve(f"{group}:{name}")
    assert target.__name__ == class_name
    if group == "models":
        assert get_registry().resolve(f"models:{class_name}") is target


def test_design_examples_resolve_to_the_libai_import_paths() -> None:
    """The example column of DESIGN.md's table: each reference is the public LiBai object."""
    import libai.data.datasets
    import libai.evaluation
    import libai.scheduler
    import libai.tokenizer
    import oneflow.optim
    from libai import models
    from libai.config.registry import get_registry

    registry = get_registry()
    assert registry.resolve("models:bert") is models.BertModel
    assert registry.resolve("optimizers:AdamW") is oneflow.optim.AdamW
    assert registry.resolve("schedulers:WarmupCosineLR") is libai.scheduler.WarmupCosineLR
    assert registry.resolve("evaluators:ClsEvaluator") is libai.evaluation.ClsEvaluator
    assert registry.resolve("tokenizers:BertTokenizer") is libai.tokenizer.BertTokenizer
    assert registry.resolve("datasets:gpt") is libai.data.datasets.GPT2Dataset


def test_config_and_engine_cli_list_the_same_registry(
    config_listing: list[dict], engine_listing: list[dict]
) -> None:
    assert config_listing == engine_listing
    listed = {(row["group"], row["name"], row["distribution"]) for row in config_listing}
    in_process = {(e.group, e.name, e.dist) for e in ENTRIES}
    assert listed == in_process
    for (group, name), dist in PROMISED.items():
        assert (group, name, dist) in listed


def test_list_one_kind_agrees_too() -> None:
    by_config = _json(_cli("list", "schedulers", "--json"))
    by_engine = _json(_engine("list", "schedulers", "--json"))
    assert by_config == by_engine
    assert {row["group"] for row in by_config} == {"schedulers"}
    assert {"WarmupCosineLR", "WarmupMultiStepLR"} <= {row["name"] for row in by_config}


def test_listing_imports_no_component_and_no_oneflow() -> None:
    """DESIGN.md 3/4: listing reads metadata; the read-only commands never import OneFlow."""
    probe = (
        "import contextlib, io, json, sys\n"
        "from libai.config.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['list', '--json'])\n"
        "    rc2 = main(['plugins', '--json'])\n"
        "heavy = sorted(m for m in sys.modules if m == 'oneflow' or m.startswith(("
        "'oneflow.', 'libai.models.bert_model', 'libai.layers', 'libai.tokenizer.', "
        "'libai.data.datasets', 'libai_models_example.model')))\n"
        "print(json.dumps({'rc': [rc, rc2], 'heavy': heavy}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data == {"rc": [0, 0], "heavy": []}


def test_plugins_of_all_four_distributions_are_loaded(plugins_report: dict) -> None:
    rows = {row["distribution"]: row for row in plugins_report["plugins"]}
    for dist in PLUGIN_DISTRIBUTIONS:
        assert dist in rows, f"{dist} missing from `libai-engine plugins`: {sorted(rows)}"
        assert rows[dist]["status"] == "loaded", rows[dist]
        assert rows[dist]["error"] is None
        assert rows[dist]["plugin"] is not None, f"{dist} has no libai.plugins entry point"
    # The engine has no plugin module: its components are plain entry points.
    assert rows["libai-engine"]["plugin"] is None
    failed = [r for r in plugins_report["plugins"] if r["status"] != "loaded" and r["plugin"]]
    assert failed == []
    # Each distribution's plugin row lists the entry points it contributes.
    example = rows["libai-models-example"]
    assert example["entry_points"] == ["models:tiny_mlp = libai_models_example.model:TinyMLP"]
    engine_eps = set(rows["libai-engine"]["entry_points"])
    assert "optimizers:AdamW = oneflow.optim:AdamW" in engine_eps
    assert "schedulers:WarmupCosineLR = libai.scheduler:WarmupCosineLR" in engine_eps


def test_disabling_a_plugin_removes_its_entries() -> None:
    """`-p no:<dist>` hides the example's entries and marks its plugin disabled."""
    listing = _json(_engine("-p", "no:libai-models-example", "list", "models", "--json"))
    assert "tiny_mlp" not in {row["name"] for row in listing}
    assert "bert" in {row["name"] for row in listing}
    report = _json(_engine("-p", "no:libai_models_example", "plugins", "--json"))
    rows = {row["distribution"]: row for row in report["plugins"]}
    assert rows["libai-models-example"]["status"] != "loaded"
    assert rows["libai-models"]["status"] == "loaded"


def test_get_config_searches_every_contributing_package() -> None:
    """DESIGN.md 2: a config that is not found names the packages searched and near names."""
    from libai.config import ConfigNotFoundError, get_config

    with pytest.raises(ConfigNotFoundError) as info:
        get_config("common/models/bertt.py")
    message = str(info.value)
    for dist in PLUGIN_DISTRIBUTIONS:
        assert dist in message
    assert "common/models/bert.py" in message


@pytest.mark.parametrize(
    ("rel", "dist"),
    [
        ("common/train.py", "libai-config"),
        ("common/optim.py", "libai-config"),
        ("common/models/bert.py", "libai-models"),
        ("common/models/graph.py", "libai-models"),
        ("common/data/gpt_dataset.py", "libai-data"),
        ("common/models/tiny_mlp.py", "libai-models-example"),
    ],
)
def test_default_configs_come_from_their_package(rel: str, dist: str) -> None:
    from libai.config.get_config import config_search_path, find_config

    found = find_config(rel)
    owners = [label for label, directory in config_search_path() if found.is_relative_to(directory)]
    assert owners == [dist], f"{rel} found at {found}"
