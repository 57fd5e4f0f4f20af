"""libai.utils.oneflow_env: the one OneFlow import, its defaults and its error messages.

The failure cases run a fresh interpreter with a real stand-in package first on
``PYTHONPATH`` (a numpy 2, a placeholder oneflow), the way those installs look.
"""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GLOG_minloglevel"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_importing_libai_utils_is_light():
    # libai.utils itself must not import OneFlow (the config layer reaches submodules by path).
    code = "import sys, libai.utils; print('oneflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_oneflow_env_defaults():
    code = (
        "import os; os.environ.pop('GLOG_minloglevel', None);"
        "from libai.utils.oneflow_env import default_device_type, ONEFLOW_VERSION;"
        "print(os.environ['GLOG_minloglevel'], default_device_type(), ONEFLOW_VERSION)"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "cpu", "0.9.0"]


def test_numpy_2_is_a_clear_error(tmp_path):
    fake = tmp_path / "numpy"
    fake.mkdir()
    (fake / "__init__.py").write_text('__version__ = "2.1.0"\n')
    out = _run("import libai.utils.oneflow_env", pythonpath=str(tmp_path))
    assert out.returncode != 0
    assert "OneFlowImportError: numpy 2.1.0 is installed" in out.stderr
    assert "numpy>=1.21,<2" in out.stderr


def test_placeholder_oneflow_is_a_clear_error(tmp_path):
    fake = tmp_path / "oneflow"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise RuntimeError("this is a placeholder package")\n')
    out = _run("import libai.utils.oneflow_env", pythonpath=str(tmp_path))
    assert out.returncode != 0
    assert "OneFlowImportError: importing oneflow failed on Python" in out.stderr
    assert "RuntimeError: this is a placeholder package" in out.stderr
