"""Every code block of docs/config.md runs, in order, in a scratch directory.

A block whose first line is ``# file: <path>`` is written to that path (config
files, YAML); every other ``python`` block is executed in one shared namespace,
so later blocks can use what earlier ones defined.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "config.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str, int]]:
    text = DOC.read_text(encoding="utf-8")
    return [
        (lang, body, text.count("\n", 0, m.start()) + 1)
        for m in BLOCK.finditer(text)
        for lang, body in [m.groups()]
    ]


def test_doc_has_code_blocks():
    langs = {lang for lang, _body, _line in blocks()}
    assert langs <= {"python", "yaml"}, f"only python and yaml blocks are runnable, found {langs}"
    assert len(blocks()) >= 10


def test_every_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIBAI_CONFIG_PATH", raising=False)
    namespace: dict = {"__name__": "docs_config"}
    for lang, body, line in blocks():
        first = body.splitlines()[0] if body else ""
        marker = re.match(r"#\s*file:\s*(\S+)", first)
        if marker:
            path = tmp_path / marker.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
            continue
        if lang != "python":
            pytest.fail(f"docs/config.md:{line}: a {lang} block needs a '# file:' first line")
        code = compile(body, f"{DOC}:{line}", "exec")
        exec(code, namespace)
