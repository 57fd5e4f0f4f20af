"""libai.utils.oneflow_env: the one OneFlow import, its defaults and its error messages.

The failure cases run a fresh interpreter with a real stand-in package first on
``PYTHONPATH`` (a numpy 2, a placeholder oneflow), the way those installs look.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from libai.engine.testing import free_port, run_process
from libai.utils.oneflow_env import _cpu_flags, choose_openblas_coretype


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


# --- OPENBLAS_CORETYPE: OneFlow's bundled OpenBLAS and its kernel choice ---------------

# Prints the kernel family OneFlow's own OpenBLAS chose when it was loaded, read from the
# library itself (gotoblas_corename), after importing OneFlow the libai way.
_CORENAME = """
import ctypes, glob, os
from libai.utils.oneflow_env import flow
lib, = glob.glob(os.path.join(os.path.dirname(flow.__file__) + ".libs", "liboneflow-*.so"))
corename = ctypes.CDLL(lib).gotoblas_corename
corename.restype = ctypes.c_char_p
print(os.environ.get("OPENBLAS_CORETYPE"), corename().decode())
"""


def _run_group(cmd: list, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group; kill the whole group on timeout."""
    return run_process(cmd, env=env, timeout=timeout)


def _clean_env(**extra: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_CORETYPE", "LIBAI_OPENBLAS_CORETYPE")
    }
    env["GLOG_minloglevel"] = "2"
    env.update(extra)
    return env


def _has_avx2_fma() -> bool:
    return {"avx2", "fma"} <= _cpu_flags()


def _cpuinfo(tmp_path, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\n")
    return str(path)


def test_openblas_coretype_rules(tmp_path):
    avx2 = _cpuinfo(tmp_path, "fpu sse2 avx avx2 fma bmi2")
    environ: dict = {}
    assert choose_openblas_coretype(environ, avx2) == "Haswell"
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}
    # A value the user or the machine set is never overridden.
    environ = {"OPENBLAS_CORETYPE": "Zen"}
    assert choose_openblas_coretype(environ, avx2) is None
    assert environ == {"OPENBLAS_CORETYPE": "Zen"}
    # The opt-out, in any case and spacing.
    environ = {"LIBAI_OPENBLAS_CORETYPE": " Keep "}
    assert choose_openblas_coretype(environ, avx2) is None
    assert "OPENBLAS_CORETYPE" not in environ
    assert choose_openblas_coretype({"LIBAI_OPENBLAS_CORETYPE": "auto"}, avx2) == "Haswell"
    # A CPU without FMA (or AVX2), or no /proc/cpuinfo: nothing is known, nothing changes.
    no_fma = tmp_path / "no-fma"
    no_fma.mkdir()
    environ = {}
    assert choose_openblas_coretype(environ, _cpuinfo(no_fma, "fpu sse2 avx avx2")) is None
    assert choose_openblas_coretype(environ, str(tmp_path / "missing")) is None
    assert environ == {}
    with pytest.raises(ValueError, match="LIBAI_OPENBLAS_CORETYPE='haswell' is not understood"):
        choose_openblas_coretype({"LIBAI_OPENBLAS_CORETYPE": "haswell"}, avx2)


def test_import_chooses_haswell_before_oneflow_loads():
    out = _run_group([sys.executable, "-c", _CORENAME], _clean_env())
    assert out.returncode == 0, out.stderr
    if _has_avx2_fma():
        # OneFlow's OpenBLAS itself runs the Haswell (AVX2 + FMA) kernels.
        assert out.stdout.split() == ["Haswell", "Haswell"]
    else:
        assert out.stdout.split()[0] == "None"


def test_a_set_value_and_the_opt_out_are_respected():
    preset = _run_group([sys.executable, "-c", _CORENAME], _clean_env(OPENBLAS_CORETYPE="Prescott"))
    assert preset.returncode == 0, preset.stderr
    assert preset.stdout.split() == ["Prescott", "Prescott"]
    kept = _run_group([sys.executable, "-c", _CORENAME], _clean_env(LIBAI_OPENBLAS_CORETYPE="keep"))
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.split()[0] == "None"
    assert kept.stdout.split()[1] != "Haswell" or not _has_avx2_fma()


def test_the_choice_is_logged_once_at_debug_level():
    code = (
        "import logging; logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(message)s');"
        "import libai.utils.oneflow_env, importlib; import libai.utils.oneflow_env"
    )
    out = _run_group([sys.executable, "-c", code], _clean_env())
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "OPENBLAS_CORETYPE=" in line]
    assert lines == (
        [
            "DEBUG OPENBLAS_CORETYPE=Haswell set for OneFlow's OpenBLAS (CPU has AVX2 and FMA; "
            "LIBAI_OPENBLAS_CORETYPE=keep leaves it unset)"
        ]
        if _has_avx2_fma()
        else []
    )


def test_gemm_with_the_chosen_kernels_matches_numpy():
    code = """
import numpy as np
from libai.utils.oneflow_env import flow
rng = np.random.default_rng(0)
worst = 0.0
for m, k, n in [(512, 256, 768), (512, 1024, 256), (64, 33, 17), (1, 256, 256)]:
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    want = a.astype(np.float64) @ b.astype(np.float64)
    for got in (
        flow.matmul(flow.tensor(a), flow.tensor(b)).numpy(),
        flow.matmul(flow.tensor(a), flow.tensor(b.T.copy()), transpose_b=True).numpy(),
        flow.matmul(flow.tensor(a[None].repeat(3, 0)), flow.tensor(b[None].repeat(3, 0))).numpy()[2],
    ):
        worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
print(worst)
"""
    out = _run_group([sys.executable, "-c", code], _clean_env())
    assert out.returncode == 0, out.stderr
    # float32 accumulation over k <= 1024 terms: relative error well below 1e-5.
    assert float(out.stdout.split()[-1]) < 1e-5


def test_oneflow_launcher_passes_the_choice_on(tmp_path):
    # The worker prints its environment before importing anything: what it sees was
    # inherited from the launcher, which inherited it from the libai process above it.
    worker = tmp_path / "worker.py"
    worker.write_text("import os\nprint('worker', os.environ.get('OPENBLAS_CORETYPE'))\n")
    port = free_port()
    parent = (
        "import subprocess, sys; import libai.utils.oneflow_env;"
        "sys.exit(subprocess.call([sys.executable, '-m', 'oneflow.distributed.launch',"
        f"'--nproc_per_node', '1', '--master_port', '{port}', {str(worker)!r}]))"
    )
    out = _run_group([sys.executable, "-c", parent], _clean_env())
    assert out.returncode == 0, out.stderr
    expected = "Haswell" if _has_avx2_fma() else "None"
    assert f"worker {expected}" in out.stdout.splitlines()


def test_engine_run_chooses_before_a_config_imports_oneflow(tmp_path):
    # Vision configs import flowvision, hence OneFlow, while the config is executed: the
    # choice must already be made by then. The config has no namespaces, so the run
    # stops with a usage error right after executing it.
    config = tmp_path / "imports_oneflow.py"
    config.write_text(
        _CORENAME.replace("from libai.utils.oneflow_env import flow", "import oneflow as flow")
    )
    out = _run_group([sys.executable, "-m", "libai.engine.cli", "run", str(config)], _clean_env())
    assert out.returncode == 2, out.stderr
    assert "lacks the namespaces" in out.stderr
    expected = ["Haswell", "Haswell"] if _has_avx2_fma() else ["None"]
    assert out.stdout.split()[: len(expected)] == expected
