"""Every ``train.*`` setting the engine reads has a default in libai-config's ``common/train.py``.

A setting the engine reads but the default config lacks could not be overridden
from the command line (``train.dist.device_type=cpu`` was an "unknown key").
This test reads the engine's source, not a list kept by hand: every
``try_get_key(cfg, "train....")``, every ``cfg.train.<a>.<b>`` read and every
``train.dist`` key read by ``libai.utils.distributed``'s ``_get(cfg, "...")``.

Left out, each for a reason: keys the engine writes itself before reading them
(derived values such as ``train.samples`` and ``train.warmup_iter``), and
arguments of a ``LazyCall`` node of the defaults (``train.scheduler.max_iter``):
those are its target's arguments, which an override may set by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from libai.config import get_config
from omegaconf import OmegaConf

ENGINE_SRC = Path(__file__).resolve().parents[1] / "packages" / "libai-engine" / "src" / "libai"


def _attribute_chain(node: ast.AST) -> list[str] | None:
    """``["train", "dist", "x"]`` for ``cfg.train.dist.x`` / ``self.cfg.train.dist.x``."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    names.reverse()
    if "train" not in names:
        return None
    start = names.index("train")
    before = names[:start]
    root_is_cfg = (isinstance(node, ast.Name) and node.id == "cfg" and not before) or (
        isinstance(node, ast.Name) and node.id == "self" and before == ["cfg"]
    )
    return names[start:] if root_is_cfg else None


def engine_reads() -> tuple[dict[str, str], set[str]]:
    """``({key: first place read}, {keys written})`` over the engine's source."""
    reads: dict[str, str] = {}
    writes: set[str] = set()
    for path in sorted(ENGINE_SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        in_distributed = path.name == "distributed.py"
        for node in ast.walk(tree):
            where = f"{path.relative_to(ENGINE_SRC)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
                keys = [t for t in texts if isinstance(t, str)]
                if name == "try_get_key":
                    for key in keys:
                        if key.startswith("train."):
                            reads.setdefault(key, where)
                elif name in ("_get", "_positive_int") and in_distributed and keys:
                    reads.setdefault(f"train.dist.{keys[0]}", where)
            elif isinstance(node, ast.Attribute):
                chain = _attribute_chain(node)
                if chain is None or len(chain) < 2:
                    continue
                key = ".".join(chain)
                if isinstance(node.ctx, ast.Store):
                    writes.add(key)
                else:
                    reads.setdefault(key, where)
    # A read of cfg.train.dist is also a read of its prefix cfg.train: keep the longest.
    for key in list(reads):
        if any(other.startswith(key + ".") for other in reads):
            del reads[key]
    return reads, writes


def test_the_engines_source_was_read() -> None:
    reads, writes = engine_reads()
    assert {"train.dist.device_type", "train.input_placement_device", "train.seed"} <= set(reads)
    assert "train.samples" in writes


def test_every_train_setting_the_engine_reads_has_a_default() -> None:
    defaults = OmegaConf.create({"train": get_config("common/train.py").train})
    reads, writes = engine_reads()
    missing = []
    for key, where in sorted(reads.items()):
        if key in writes:
            continue  # derived by the engine before it is read
        parts = key.split(".")
        if any(
            OmegaConf.select(defaults, ".".join(parts[:i]) + "._target_", default=None)
            for i in range(2, len(parts))
        ):
            continue  # an argument of a LazyCall node: overridable by its target's signature
        if OmegaConf.select(defaults, key, default=KeyError) is KeyError:
            missing.append(f"{key} (read at {where})")
    assert not missing, "settings the engine reads without a default in common/train.py:\n" + (
        "\n".join(missing)
    )


@pytest.mark.parametrize(
    "override",
    ["train.dist.device_type=cpu", "train.input_placement_device=cpu", "train.rdma_enabled=true"],
)
def test_engine_settings_are_overridable_without_plus(override: str) -> None:
    from libai.config import LazyConfig

    cfg = OmegaConf.create({"train": get_config("common/train.py").train})
    LazyConfig.apply_overrides(cfg, [override])
    key, value = override.split("=")
    assert str(OmegaConf.select(cfg, key)).lower() == value
