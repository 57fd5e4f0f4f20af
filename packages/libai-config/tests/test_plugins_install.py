"""Plugins for real: build and pip-install distributions into a fresh virtual environment.

Installed once per test session: libai-config itself (from this checkout),
``examples/libai-models-example``, a deliberately broken plugin and one that
claims the example's ``models:tiny_mlp`` (``tests/plugins/``). Every check
runs ``python -m libai.config`` (or Python) in that environment as a
subprocess, so entry points come from the metadata pip wrote. Nothing is
monkeypatched.

Needs pip and access to the package index for the dependencies and the
build backend (hatchling), as any ``pip install`` of these packages does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent
REPO = PACKAGE.parent.parent
EXAMPLE = REPO / "examples" / "libai-models-example"
BROKEN = TESTS / "plugins" / "broken"
CONFLICTING = TESTS / "plugins" / "conflicting"

pytestmark = pytest.mark.skipif(
    not EXAMPLE.is_dir(), reason="needs the monorepo checkout (examples/)"
)


class Env:
    """A virtual environment and a way to run its Python."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        bindir = "Scripts" if os.name == "nt" else "bin"
        self.python = root / bindir / ("python.exe" if os.name == "nt" else "python")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LIBAI_", "PYTHON"))}
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(self, *args: str, check: bool = False, extra_env: dict[str, str] | None = None):
        result = subprocess.run(
            [str(self.python), *args],
            cwd=self.workdir,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def cli(self, *args: str, extra_env: dict[str, str] | None = None):
        return self.run("-m", "libai.config", *args, extra_env=extra_env)

    def cli_json(self, *args: str) -> object:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("plugin-venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(root / "venv")
    workdir = tmp_path_factory.mktemp("plugin-work")
    environment = Env(root / "venv", workdir)
    environment.run(
        "-m",
        "pip",
        "install",
        "-q",
        str(PACKAGE),
        str(EXAMPLE),
        str(BROKEN),
        str(CONFLICTING),
        check=True,
    )
    return environment


def write(env: Env, name: str, source: str) -> Path:
    path = env.workdir / name
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def test_list_reads_every_installed_entry(env: Env) -> None:
    rows = env.cli_json("list", "models")
    found = {(r["name"], r["distribution"]): r for r in rows}
    assert set(found) == {
        ("broken_net", "libai-models-broken"),
        ("tiny_mlp", "libai-models-conflicting"),
        ("tiny_mlp", "libai-models-example"),
        ("wide_mlp", "libai-models-conflicting"),
    }
    example = found[("tiny_mlp", "libai-models-example")]
    assert example["target"] == "libai_models_example.model:TinyMLP"
    assert example["version"] == "0.1.0"
    assert example["conflict"] is True
    assert example["reference"] == "models:libai-models-example/tiny_mlp"
    assert found[("wide_mlp", "libai-models-conflicting")]["reference"] == "models:wide_mlp"


def test_listing_imports_no_component_module(env: Env) -> None:
    probe = (
        "import sys\n"
        "from libai.config.registry import get_registry\n"
        "print(len(get_registry().list()))\n"
        "print(sorted(m for m in sys.modules if m.startswith('libai_models')))\n"
    )
    out = env.run("-c", probe, check=True).stdout.splitlines()
    assert out[0] == "4"
    # Plugin modules are imported (their hooks run; the broken one's import was
    # attempted); no model module is, and a distribution without a plugin module
    # is not touched at all.
    imported = eval(out[1])  # a printed list of str
    assert "libai_models_example.plugin" in imported
    assert not [m for m in imported if m.endswith((".model", ".net"))]
    assert not [m for m in imported if m.startswith("libai_models_conflicting")]


def test_plugins_show_loaded_failed_and_conflicts(env: Env) -> None:
    report = env.cli_json("plugins")
    rows = {r["distribution"]: r for r in report["plugins"]}
    assert list(rows)[0] == "libai-config"
    assert rows["libai-config"]["status"] == "loaded"
    example = rows["libai-models-example"]
    assert example["status"] == "loaded"
    assert example["version"] == "0.1.0"
    assert example["plugin"] == "libai_models_example = libai_models_example.plugin"
    assert example["entry_points"] == ["models:tiny_mlp = libai_models_example.model:TinyMLP"]
    broken = rows["libai-models-broken"]
    assert broken["status"] == "failed"
    assert "RuntimeError while importing libai_models_broken.plugin" in broken["error"]
    assert "plugin module failed on purpose" in broken["error"]
    assert rows["libai-models-conflicting"]["status"] == "lazy"
    assert report["conflicts"] == [
        {
            "reference": "models:tiny_mlp",
            "distributions": ["libai-models-conflicting", "libai-models-example"],
            "use": [
                "models:libai-models-conflicting/tiny_mlp",
                "models:libai-models-example/tiny_mlp",
            ],
        }
    ]
    # --import finds the broken model module too, with its traceback.
    rows = {r["distribution"]: r for r in env.cli_json("plugins", "--import")["plugins"]}
    assert rows["libai-models-conflicting"]["status"] == "loaded"
    assert rows["libai-models-broken"]["status"] == "failed"

    table = env.cli("plugins")
    assert table.returncode == 0 and "libai-models-example" in table.stdout


def test_check_through_installed_entry_points(env: Env) -> None:
    good = write(
        env,
        "good.py",
        """
        from libai.config import LazyCall
        model = LazyCall("models:libai-models-example/tiny_mlp")(
            in_features=4, hidden_features=8, out_features=2
        )
        other = LazyCall("models:wide_mlp")(width=3)
        """,
    )
    result = env.cli("check", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK, 2 calls resolved and checked" in result.stdout

    report = env.cli("check", str(good), "+model.hiden_features=3", "~model.out_features", "--json")
    assert report.returncode == 2
    assert [p["message"] for p in json.loads(report.stdout)["problems"]] == [
        "unknown argument 'hiden_features' for libai_models_example.model.TinyMLP; "
        "did you mean hidden_features, in_features?",
        "missing required argument 'out_features' for libai_models_example.model.TinyMLP; "
        "set model.out_features",
    ]

    ambiguous = env.cli("check", str(good), "model._target_=models:tiny_mlp")
    assert ambiguous.returncode == 2
    assert "models:tiny_mlp is claimed by 2 distributions" in ambiguous.stdout
    assert "'models:libai-models-conflicting/tiny_mlp'" in ambiguous.stdout

    broken = env.cli("check", str(good), "other._target_=models:broken_net")
    assert broken.returncode == 2
    assert "libai-models-broken 0.3.0" in broken.stdout
    assert 'broken_net = "libai_models_broken.net:BrokenNet"' in broken.stdout
    assert "ModuleNotFoundError" in broken.stdout and "Traceback" in broken.stdout


def test_disabling_a_distribution_resolves_the_conflict(env: Env) -> None:
    cfg = write(
        env,
        "short.py",
        """
        from libai.config import LazyCall
        model = LazyCall("models:tiny_mlp")(in_features=2, hidden_features=3, out_features=1)
        """,
    )
    assert env.cli("check", str(cfg)).returncode == 2
    result = env.cli("-p", "no:libai-models-conflicting", "check", str(cfg))
    assert result.returncode == 0, result.stdout + result.stderr
    result = env.cli(
        "check", str(cfg), extra_env={"LIBAI_DISABLE_PLUGINS": "libai-models-conflicting"}
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_instantiate_get_config_and_trainer_hooks(env: Env) -> None:
    """The example through its installed entry points: default config, model, hooks."""
    script = write(
        env,
        "use.py",
        """
        import json
        from libai.config import LazyConfig, get_config, instantiate
        from libai.config.plugins import config_dirs, trainer_hooks
        from libai.config.registry import reference_for

        cfg = get_config("common/models/tiny_mlp.py")
        cfg = LazyConfig.apply_overrides(
            cfg, ["model._target_=models:libai-models-example/tiny_mlp", "model.seed=3"]
        )
        model = instantiate(cfg.model)
        again = instantiate(cfg.model)
        try:
            trainer_hooks({"train": {"log_period": 5}})
            hooks_error = None
        except Exception as exc:
            hooks_error = f"{type(exc).__name__}: {exc} <- {exc.__cause__!r}"
        print(json.dumps({
            "type": type(model).__module__ + "." + type(model).__name__,
            "params": model.num_parameters(),
            "out": model([1.0, 0.5, -0.5, 2.0]),
            "same": model([1.0, 0.5, -0.5, 2.0]) == again([1.0, 0.5, -0.5, 2.0]),
            "reference": reference_for(type(model)),
            "dirs": [label for label, _ in config_dirs()],
            "hooks_error": hooks_error,
            "off": trainer_hooks({"train": {"example_step_counter": False}}),
        }))
        """,
    )
    result = env.run(str(script), check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["type"] == "libai_models_example.model.TinyMLP"
    assert data["params"] == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
    assert len(data["out"]) == 2 and data["same"] is True
    assert data["reference"] == "models:libai-models-example/tiny_mlp"
    assert data["dirs"][0] == "libai-config" or "libai-models-example" in data["dirs"]
    assert "libai-models-example" in data["dirs"]
    # The example's hook subclasses the engine's HookBase; in a config-only
    # install asking for it fails, naming the plugin (only the engine asks).
    assert data["hooks_error"].startswith(
        "PluginError: plugin libai-models-example: hook libai_trainer_hooks raised "
        "ModuleNotFoundError: No module named 'libai.engine'"
    )
    assert data["off"] == []


def test_cli_runs_in_a_config_only_install_without_oneflow(env: Env) -> None:
    probe = "import importlib.util; print(importlib.util.find_spec('oneflow') is None)"
    assert env.run("-c", probe, check=True).stdout.strip() == "True"
    assert env.cli("--help").returncode == 0
    # The console script of libai-config is installed too.
    scripts = env.python.parent
    assert (scripts / ("libai-config.exe" if os.name == "nt" else "libai-config")).exists()
    assert sys.executable != str(env.python)


LATE_PLUGIN = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling>=1.18"]
        build-backend = "hatchling.build"

        [project]
        name = "libai-late-plugin"
        version = "1.0.0"
        requires-python = ">=3.9"
        dependencies = ["libai-config"]

        [project.entry-points."libai.plugins"]
        libai_late_plugin = "libai_late_plugin"

        [tool.hatch.build.targets.wheel]
        packages = ["src/libai_late_plugin"]
    """,
    "src/libai_late_plugin/__init__.py": """
        from libai.config import hookimpl

        CALLS = []


        @hookimpl
        def libai_register(registry):
            CALLS.append("libai_register")
            registry.register("models", "late_net", "collections:OrderedDict")
    """,
}


def test_reset_after_an_install_runs_the_new_plugins_register_hook(
    env: Env, tmp_path: Path
) -> None:
    """The registry was read, then a plugin was pip-installed: one reset, and its hook runs."""
    source = tmp_path / "late"
    for rel, text in LATE_PLUGIN.items():
        path = source / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    script = write(
        env,
        "late_install.py",
        f"""
        import json, subprocess, sys
        from libai.config import registry

        before = registry.get_registry().names("models")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", {str(source)!r}],
            check=True,
        )
        stale = registry.get_registry().names("models")
        registry.reset_registry()
        after = registry.get_registry().names("models")
        import libai_late_plugin

        print(json.dumps({{
            "before": "late_net" in before,
            "stale": "late_net" in stale,
            "after": "late_net" in after,
            "calls": libai_late_plugin.CALLS,
            "resolved": registry.resolve_reference("models:late_net").__name__,
        }}))
        """,
    )
    try:
        result = env.run(str(script))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.strip().splitlines()[-1]) == {
            "before": False,
            "stale": False,
            "after": True,
            "calls": ["libai_register"],
            "resolved": "OrderedDict",
        }
    finally:  # the session's venv is shared with the other tests
        env.run("-m", "pip", "uninstall", "-q", "-y", "libai-late-plugin")
