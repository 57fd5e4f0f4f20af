"""The registry: references, lazy listing, isolation of broken plugins, conflicts.

Distributions are real ``*.dist-info`` directories in a temporary site dir on
``sys.path`` (what pip leaves), read by importlib-metadata; nothing is
monkeypatched. ``test_plugins_install.py`` does the same through pip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _libai_registry_site import SiteOnPath, add_distribution
from libai.config import registry
from libai.config.registry import (
    AmbiguousEntryError,
    PluginLoadError,
    Registry,
    RegistryError,
    UnknownEntryError,
)

BERT = """
class Bert:
    def __init__(self, hidden_size=8):
        self.hidden_size = hidden_size
"""


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    with SiteOnPath(root):
        yield root


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:bert", True),
        ("libai.models:bert", True),
        ("models:acme-models/bert", True),
        ("optimizers:AdamW", True),
        ("models:bert-base.v2", True),
        ("oneflow.optim.AdamW", False),
        ("acme.models.bert:Bert", False),
        ("bert", False),
        ("models:", False),
        ("models:a/b/c", False),
    ],
)
def test_is_reference(text: str, expected: bool) -> None:
    assert registry.is_reference(text) is expected


def test_parse_reference() -> None:
    assert registry.parse_reference("models:acme/bert") == ("models", "acme", "bert")
    assert registry.parse_reference("libai.models:bert") == ("models", None, "bert")
    assert registry.parse_reference("a.b.c") is None


def test_listing_reads_metadata_only_and_resolving_imports(site: Path) -> None:
    add_distribution(
        site,
        "acme-models",
        "2.1",
        {
            "libai.models": {
                "acme_bert": "acme_models.bert:Bert",
                "acme_bert_large": "acme_models.bert:Bert",
            }
        },
        {"acme_models/__init__.py": "", "acme_models/bert.py": BERT},
    )
    entries = registry.get_registry().list("models", pattern="acme_*")
    assert [(e.name, e.value, e.dist, e.version) for e in entries] == [
        ("acme_bert", "acme_models.bert:Bert", "acme-models", "2.1"),
        ("acme_bert_large", "acme_models.bert:Bert", "acme-models", "2.1"),
    ]
    assert "acme_models.bert" not in sys.modules
    assert registry.reference_for(object()) is None
    assert "acme_models.bert" not in sys.modules  # reverse lookup never imports

    bert = registry.resolve_reference("models:acme_bert")
    assert "acme_models.bert" in sys.modules
    assert bert(hidden_size=4).hidden_size == 4
    assert registry.resolve_reference("libai.models:acme_bert") is bert
    assert registry.resolve_reference("models:acme-models/acme_bert") is bert
    assert registry.resolve_reference("models:Acme_Models/acme_bert") is bert  # PEP 503 names
    # Two names for one class: the first in natural order is its reference.
    assert registry.reference_for(bert) == "models:acme_bert"


def test_broken_module_breaks_only_its_own_entries(site: Path) -> None:
    add_distribution(
        site,
        "acme-broken",
        "0.3",
        {"libai.models": {"broken": "acme_broken.net:Net"}},
        {"acme_broken/__init__.py": "", "acme_broken/net.py": "x = 1 / 0\n"},
    )
    add_distribution(
        site,
        "acme-models",
        "1.0",
        {"libai.models": {"acme_bert": "acme_models.bert:Bert"}},
        {"acme_models/__init__.py": "", "acme_models/bert.py": BERT},
    )
    reg = registry.get_registry()
    assert {e.name for e in reg.list("models")} >= {"broken", "acme_bert"}
    with pytest.raises(PluginLoadError) as info:
        registry.resolve_reference("models:broken")
    message = str(info.value)
    assert "acme-broken 0.3" in message
    assert 'broken = "acme_broken.net:Net"' in message
    assert "libai.models" in message
    assert "ZeroDivisionError" in message
    assert "Traceback (most recent call last)" in message
    assert "acme_broken/net.py" in message
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert isinstance(info.value, LookupError)
    # Asked again: the same error, and the rest of the registry keeps working.
    with pytest.raises(PluginLoadError):
        registry.resolve_reference("models:broken")
    assert registry.resolve_reference("models:acme_bert").__name__ == "Bert"
    assert reg.get("models", "broken").failed is not None


def test_conflicting_names_need_the_distribution(site: Path) -> None:
    for dist, module in (("acme", "acme_bert"), ("other-models", "other_bert")):
        add_distribution(
            site,
            dist,
            "1.0",
            {"libai.models": {"acme_bert": f"{module}:Bert"}},
            {f"{module}.py": BERT},
        )
    with pytest.raises(AmbiguousEntryError) as info:
        registry.resolve_reference("models:acme_bert")
    message = str(info.value)
    assert "acme" in message and "other-models" in message
    assert "'models:acme/acme_bert'" in message and "'models:other-models/acme_bert'" in message
    acme = registry.resolve_reference("models:acme/acme_bert")
    other = registry.resolve_reference("models:other-models/acme_bert")
    assert acme.__module__ == "acme_bert" and other.__module__ == "other_bert"
    # save must write a reference that resolves to the same class again.
    assert registry.reference_for(acme) == "models:acme/acme_bert"
    assert registry.reference_for(other) == "models:other-models/acme_bert"
    with pytest.raises(UnknownEntryError, match="distribution 'nope' provides no 'acme_bert'"):
        registry.resolve_reference("models:nope/acme_bert")
    assert [
        [e.dist for e in c] for c in registry.get_registry().conflicts() if c[0].name == "acme_bert"
    ] == [["acme", "other-models"]]


def test_unknown_names_and_groups_suggest_the_nearest(site: Path) -> None:
    add_distribution(
        site,
        "acme-models",
        "1.0",
        {"libai.models": {"acme_bert": "acme_bert:Bert", "acme_gpt2": "acme_bert:Bert"}},
        {"acme_bert.py": BERT},
    )
    with pytest.raises(UnknownEntryError, match=r"did you mean models:acme_bert[,?]"):
        registry.resolve_reference("models:acme_bret")
    with pytest.raises(UnknownEntryError, match=r"did you mean models\?"):
        registry.resolve_reference("model:acme_bert")
    with pytest.raises(RegistryError, match="not a registry reference"):
        registry.get_registry().resolve("acme.bert")


def test_plugin_hooks_add_groups_and_register_in_code(site: Path) -> None:
    add_distribution(
        site,
        "acme-callbacks",
        "1.0",
        {
            "libai.plugins": {"acme_callbacks": "acme_callbacks.plugin"},
            "libai.callbacks": {"early_stop": "acme_callbacks.impl:EarlyStop"},
        },
        {
            "acme_callbacks/__init__.py": "",
            "acme_callbacks/impl.py": "class EarlyStop:\n    pass\n\ndef tiny():\n    return 'tiny'\n",
            "acme_callbacks/plugin.py": """
                from libai.config.hookspecs import hookimpl

                @hookimpl
                def libai_add_groups():
                    return ["callbacks"]

                @hookimpl
                def libai_register(registry):
                    registry.register("models", "acme_tiny", "acme_callbacks.impl:tiny")
                """,
        },
    )
    reg = registry.get_registry()
    assert "callbacks" in reg.groups
    assert registry.resolve_reference("callbacks:early_stop").__name__ == "EarlyStop"
    entry = reg.get("models", "acme_tiny")
    assert (entry.dist, entry.source, entry.loaded) == ("acme-callbacks", "register", False)
    assert registry.resolve_reference("models:acme_tiny")() == "tiny"


def test_a_failing_register_hook_fails_only_its_plugin(site: Path) -> None:
    add_distribution(
        site,
        "acme-bad-hook",
        "1.0",
        {"libai.plugins": {"acme_bad_hook": "acme_bad_hook"}},
        {
            "acme_bad_hook.py": """
                from libai.config.hookspecs import hookimpl

                @hookimpl
                def libai_register(registry):
                    registry.register("modles", "x", "os:getcwd")
                """
        },
    )
    add_distribution(
        site,
        "acme-models",
        "1.0",
        {"libai.models": {"acme_bert": "acme_bert:Bert"}},
        {"acme_bert.py": BERT},
    )
    with pytest.warns(UserWarning, match="plugin acme-bad-hook: hook libai_register raised"):
        reg = registry.get_registry()
    assert registry.resolve_reference("models:acme_bert").__name__ == "Bert"
    from libai.config.plugins import get_plugin_manager

    info = next(i for i in get_plugin_manager().infos if i.dist == "acme-bad-hook")
    assert info.status == "failed"
    assert "unknown registry group 'modles'; did you mean models?" in info.error
    assert reg.get("models", "acme_bert").dist == "acme-models"


def test_registry_by_hand_lists_in_natural_order_with_patterns() -> None:
    reg = Registry()
    for name in ("vit10", "vit2", "bert", "vit_tiny"):
        reg.register("models", name, dict)
    assert [e.name for e in reg.list("models")] == ["bert", "vit2", "vit10", "vit_tiny"]
    assert [e.name for e in reg.list(pattern="vit*")] == ["vit2", "vit10", "vit_tiny"]
    assert reg.resolve("models:vit2") is dict
    assert reg.get("models", "bert").value == "builtins:dict"
    with pytest.raises(UnknownEntryError, match="libai_add_groups"):
        reg.register("widgets", "x", dict)
    reg.add_group("libai.widgets")
    reg.register("widgets", "x", dict)
    assert reg.resolve("widgets:x") is dict
    with pytest.raises(ValueError, match="identifier"):
        reg.add_group("bad-name")


def test_yaml_override_and_save_use_references(site: Path, tmp_path: Path) -> None:
    from libai.config import LazyCall, LazyConfig, instantiate

    add_distribution(
        site,
        "acme-models",
        "1.0",
        {"libai.models": {"acme_bert": "acme_bert:Bert", "acme_small": "acme_bert:Small"}},
        {"acme_bert.py": BERT + "\n\nclass Small(Bert):\n    pass\n"},
    )
    yaml_file = tmp_path / "exp.yaml"
    yaml_file.write_text(
        "model:\n  _target_: models:acme_bert\n  hidden_size: 16\n", encoding="utf-8"
    )
    cfg = LazyConfig.load(str(yaml_file))
    assert instantiate(cfg.model).hidden_size == 16
    cfg = LazyConfig.apply_overrides(cfg, ["model._target_=models:acme_small"])
    model = instantiate(cfg.model)
    assert type(model).__name__ == "Small" and model.hidden_size == 16

    # A callable that is registered is saved as its reference, not its import path.
    saved = tmp_path / "saved.yaml"
    LazyConfig.save({"model": LazyCall(type(model))(hidden_size=3)}, str(saved))
    assert "models:acme_small" in saved.read_text(encoding="utf-8")
    assert instantiate(LazyConfig.load(str(saved)).model).hidden_size == 3
