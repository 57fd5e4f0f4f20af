"""The plugin manager: load order, blocking, failures, and the typed hook calls.

Plugins are real distributions in a temporary site dir (see
``_libai_registry_site``), found through importlib-metadata.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _libai_registry_site import SiteOnPath, add_distribution
from libai.config import plugins
from libai.config.plugins import PluginError, get_plugin_manager

GOOD_PLUGIN = """
from pathlib import Path
from libai.config.hookspecs import hookimpl

@hookimpl
def libai_config_dirs():
    return [Path(__file__).parent / "configs"]

@hookimpl
def libai_trainer_hooks(cfg):
    return [("{name}", cfg["tag"])]
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(plugins.ENV_DISABLE, raising=False)
    monkeypatch.delenv(plugins.ENV_NO_AUTOLOAD, raising=False)
    root = tmp_path / "site"
    root.mkdir()
    with SiteOnPath(root):
        yield root


def add_plugin(site: Path, dist: str, module: str, source: str = GOOD_PLUGIN) -> None:
    add_distribution(
        site,
        dist,
        "1.2",
        {"libai.plugins": {module: f"{module}.plugin"}},
        {
            f"{module}/__init__.py": "",
            f"{module}/plugin.py": source.replace("{name}", dist),
            f"{module}/configs/common/x.py": "x = 1\n",
        },
    )


def infos_by_dist() -> dict[str, plugins.PluginInfo]:
    return {info.label: info for info in get_plugin_manager().infos}


def test_builtin_plugin_first_then_by_distribution(site: Path) -> None:
    add_plugin(site, "zeta-models", "zeta_models")
    add_plugin(site, "alpha-models", "alpha_models")
    labels = [info.label for info in get_plugin_manager().infos]
    assert labels[0] == "libai-config"
    assert labels.index("alpha-models") < labels.index("zeta-models")
    dirs = plugins.config_dirs()
    ours = [(label, path) for label, path in dirs if label in ("alpha-models", "zeta-models")]
    assert ours == [
        ("alpha-models", site / "alpha_models" / "configs"),
        ("zeta-models", site / "zeta_models" / "configs"),
    ]
    hooks = plugins.trainer_hooks({"tag": 7})
    assert ("alpha-models", 7) in hooks and ("zeta-models", 7) in hooks
    assert hooks.index(("alpha-models", 7)) < hooks.index(("zeta-models", 7))


def test_builtin_plugin_contributes_libai_config_configs(site: Path) -> None:
    import libai.config.builtin_plugin as builtin

    info = infos_by_dist()["libai-config"]
    assert (info.name, info.value, info.status) == (
        "libai_config",
        "libai.config.builtin_plugin",
        "loaded",
    )
    if builtin.CONFIG_DIR.is_dir():
        assert ("libai-config", builtin.CONFIG_DIR) in plugins.config_dirs()


@pytest.mark.parametrize("name", ["beta_models", "beta-models", "Beta_Models"])
def test_disable_by_entry_point_or_distribution_name(
    site: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    add_plugin(site, "beta-models", "beta_models")
    add_plugin(site, "gamma-models", "gamma_models")
    monkeypatch.setenv(plugins.ENV_DISABLE, f"{name}, other")
    infos = infos_by_dist()
    assert infos["beta-models"].status == "disabled"
    assert infos["gamma-models"].status == "loaded"
    ours = [label for label, _ in plugins.config_dirs() if label in ("beta-models", "gamma-models")]
    assert ours == ["gamma-models"]


def test_disable_plugins_from_the_command_line(site: Path) -> None:
    add_plugin(site, "beta-models", "beta_models")
    assert infos_by_dist()["beta-models"].status == "loaded"
    plugins.disable_plugins(["beta_models"])
    assert infos_by_dist()["beta-models"].status == "disabled"


def test_autoload_off_keeps_only_the_builtin(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_plugin(site, "beta-models", "beta_models")
    monkeypatch.setenv(plugins.ENV_NO_AUTOLOAD, "1")
    infos = infos_by_dist()
    assert infos["libai-config"].status == "loaded"
    assert infos["beta-models"].status == "disabled"


def test_failing_import_and_misspelt_hook_fail_only_that_plugin(site: Path) -> None:
    add_plugin(site, "good-models", "good_models")
    add_plugin(site, "crash-models", "crash_models", "import json\nraise OSError('disk on fire')\n")
    add_plugin(
        site,
        "typo-models",
        "typo_models",
        "from libai.config.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef libai_confg_dirs():\n    return []\n",
    )
    infos = infos_by_dist()
    crash = infos["crash-models"]
    assert crash.status == "failed"
    assert "OSError while importing crash_models.plugin: disk on fire" in crash.error
    assert "crash_models/plugin.py" in crash.error  # the original traceback
    typo = infos["typo-models"]
    assert typo.status == "failed"
    assert "libai_confg_dirs (did you mean libai_config_dirs?)" in typo.error
    assert infos["good-models"].status == "loaded"
    assert "good-models" in [label for label, _ in plugins.config_dirs()]


def test_wrong_hook_signature_fails_the_plugin(site: Path) -> None:
    add_plugin(
        site,
        "sig-models",
        "sig_models",
        "from libai.config.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef libai_trainer_hooks(cfg, extra):\n    return []\n",
    )
    info = infos_by_dist()["sig-models"]
    assert info.status == "failed"
    assert "extra" in info.error


def test_a_raising_trainer_hook_names_its_plugin(site: Path) -> None:
    add_plugin(
        site,
        "bad-hooks",
        "bad_hooks",
        "from libai.config.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef libai_trainer_hooks(cfg):\n    raise KeyError('train.period')\n",
    )
    with pytest.raises(
        PluginError, match="plugin bad-hooks: hook libai_trainer_hooks raised"
    ) as info:
        plugins.trainer_hooks({})
    assert isinstance(info.value.__cause__, KeyError)


def test_missing_config_dir_is_skipped_with_a_warning(site: Path) -> None:
    add_plugin(
        site,
        "nodir-models",
        "nodir_models",
        "from libai.config.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef libai_config_dirs():\n    return ['/nonexistent/libai/configs']\n",
    )
    with pytest.warns(UserWarning, match="plugin nodir-models: config dir /nonexistent"):
        dirs = plugins.config_dirs()
    assert all(label != "nodir-models" for label, _ in dirs)


def test_plugins_registered_in_code_take_part(site: Path) -> None:
    from libai.config.hookspecs import hookimpl

    class InCode:
        @hookimpl
        def libai_trainer_hooks(self, cfg):
            return ["in-code"]

    manager = get_plugin_manager()
    manager.register(InCode(), name="in_code")
    assert "in-code" in plugins.trainer_hooks({})
    assert infos_by_dist()["in_code"].status == "loaded"


def test_hooks_are_called_through_pluggy_fewer_arguments_and_wrappers(site: Path) -> None:
    """pluggy's contract: an implementation may omit spec arguments; wrappers wrap."""
    add_plugin(
        site,
        "fewer-args",
        "fewer_args",
        "from libai.config.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef libai_trainer_hooks():\n    return ['fewer']\n\n"
        "@hookimpl\ndef libai_register():\n    CALLED.append('register')\n\n"
        "CALLED = []\n",
    )
    add_plugin(
        site,
        "wrapping",
        "wrapping",
        "from libai.config.hookspecs import hookimpl\n\n"
        "SEEN = []\n\n"
        "@hookimpl(wrapper=True)\ndef libai_trainer_hooks(cfg):\n"
        "    result = yield\n    SEEN.append(sum(len(hs) for hs in result))\n"
        "    return result + [['wrapped-' + cfg['tag']]]\n\n"
        "@hookimpl(hookwrapper=True)\ndef libai_config_dirs():\n"
        "    outcome = yield\n    SEEN.append('old-style wrapper')\n",
    )
    from fewer_args import plugin as fewer_args
    from libai.config.registry import get_registry
    from wrapping import plugin as wrapping

    hooks = plugins.trainer_hooks({"tag": "t"})
    assert "fewer" in hooks and "wrapped-t" in hooks
    assert wrapping.SEEN[0] == len(hooks) - 1  # the wrapper saw every other plugin's hooks
    get_registry()
    assert fewer_args.CALLED == ["register"]
    plugins.config_dirs()
    assert wrapping.SEEN[1:] == ["old-style wrapper"]


def test_one_reset_forgets_the_manager_and_the_registry(site: Path) -> None:
    from libai.config import _state
    from libai.config.registry import get_registry, reset_registry

    manager, registry = get_plugin_manager(), get_registry()
    reset_registry()
    assert get_plugin_manager() is not manager and get_registry() is not registry
    assert plugins.reset_plugin_manager is not None and _state.LOCK.acquire(timeout=1)
    _state.LOCK.release()


def test_example_plugin_trainer_hook_is_an_engine_hook(site: Path) -> None:
    """examples/libai-models-example's hook, laid out as pip would install it."""
    hook_base = pytest.importorskip("libai.engine.hooks").HookBase
    example = Path(__file__).resolve().parents[3] / "examples" / "libai-models-example"
    if not example.is_dir():
        pytest.skip("needs the monorepo checkout (examples/)")
    shutil.copytree(
        example / "src" / "libai_models_example",
        site / "libai_models_example",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    add_distribution(
        site,
        "libai-models-example",
        "0.1.0",
        {
            "libai.plugins": {"libai_models_example": "libai_models_example.plugin"},
            "libai.models": {"tiny_mlp": "libai_models_example.model:TinyMLP"},
        },
    )
    hooks = [h for h in plugins.trainer_hooks({"train": {"log_period": 2}}) if hasattr(h, "steps")]
    assert len(hooks) == 1 and isinstance(hooks[0], hook_base)
    hook = hooks[0]
    hook.before_train()
    for _ in range(5):
        hook.before_step()
        hook.after_step()
    hook.after_train()
    assert (hook.steps, hook.period) == (5, 2)
    off = plugins.trainer_hooks({"train": {"example_step_counter": False}})
    assert not [h for h in off if hasattr(h, "steps")]
    assert ("libai-models-example", site / "libai_models_example" / "configs") in (
        plugins.config_dirs()
    )
