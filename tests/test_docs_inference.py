"""Every code block of docs/inference.md runs, in order, in a scratch directory.

As for docs/config.md: a block whose first line is ``# file: <path>`` is written to that
path; other ``python`` blocks run in one shared namespace. ``console`` blocks hold
commands (``$ ...``) each followed by its expected output, which must match exactly.
The scratch directory links ``gpt2-tiny`` and ``t5-tiny`` to the trained tiny Hugging
Face models of libai-models' generation fixtures.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from libai.engine.testing import run_process, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "inference.md"
GEN = ROOT / "packages" / "libai-models" / "tests" / "fixtures" / "generation"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str, int]]:
    text = DOC.read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(text)
    ]


def _commands(body: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block."""
    pairs: list[tuple[str, list]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(command, "\n".join(line.rstrip() for line in out).rstrip()) for command, out in pairs]


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    engine = str(Path(sys.executable).parent / "libai-engine")
    command = command.replace("$(which libai-engine)", engine)
    argv = shlex.split(command)
    argv[0] = {"libai-engine": engine, "python": sys.executable}.get(argv[0], argv[0])
    # Unbuffered, as on a terminal: OneFlow's launcher prints its OMP_NUM_THREADS note
    # before it starts the ranks, and a block-buffered pipe would flush it after their output.
    env = subprocess_env(extra={"PYTHONUNBUFFERED": "1"})
    return run_process(argv, cwd=cwd, env=env, timeout=900)


def test_doc_has_examples() -> None:
    langs = [lang for lang, _, _ in blocks()]
    assert set(langs) <= {"python", "console"}
    assert langs.count("python") >= 4 and langs.count("console") >= 2


def test_every_block_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpt2-tiny").symlink_to(GEN / "gpt2")
    (tmp_path / "t5-tiny").symlink_to(GEN / "t5")
    namespace: dict = {"__name__": "docs_inference"}
    for lang, body, line in blocks():
        marker = re.match(r"#\s*file:\s*(\S+)", body.splitlines()[0] if body else "")
        if marker:
            (tmp_path / marker.group(1)).write_text(body, encoding="utf-8")
        elif lang == "python":
            exec(compile(body, f"{DOC}:{line}", "exec"), namespace)
        else:
            for command, expected in _commands(body):
                proc = _run(command, tmp_path)
                where = f"docs/inference.md:{line}: {command}"
                assert proc.returncode == 0, f"{where}\n{proc.stderr[-3000:]}"
                got = "\n".join(line.rstrip() for line in proc.stdout.rstrip().splitlines())
                assert got == expected, f"{where}\n{proc.stdout}"
