"""The package layering of shared/DESIGN.md section 1, checked on the source.

Arrows only point down: config knows nothing of oneflow or the other packages;
the engine never imports libai.models or libai.data; models and data never
import each other. No distribution ships ``libai/__init__.py`` (PEP 420).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"

# distribution -> module prefixes it must never import
FORBIDDEN = {
    "libai-config": (
        "oneflow",
        "libai.engine",
        "libai.models",
        "libai.data",
        "libai.utils",
        "libai.optim",
        "libai.scheduler",
        "libai.evaluation",
        "libai.layers",
        "libai.tokenizer",
    ),
    "libai-engine": ("libai.models", "libai.layers", "libai.data", "libai.tokenizer"),
    "libai-models": ("libai.data", "libai.tokenizer"),
    "libai-data": ("libai.models", "libai.layers"),
}


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _source_files(dist: str) -> list[Path]:
    src = PACKAGES / dist / "src"
    # default config files are user-facing examples and may name any package's targets
    return [p for p in src.rglob("*.py") if "configs" not in p.relative_to(src).parts]


@pytest.mark.parametrize("dist", sorted(FORBIDDEN))
def test_imports_only_point_down(dist: str) -> None:
    violations = []
    for path in _source_files(dist):
        for lineno, module in _imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[dist]):
                violations.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    assert not violations, "layering broken:\n" + "\n".join(violations)


@pytest.mark.parametrize("dist", sorted(FORBIDDEN))
def test_libai_is_a_namespace_package(dist: str) -> None:
    assert not (PACKAGES / dist / "src" / "libai" / "__init__.py").exists()
