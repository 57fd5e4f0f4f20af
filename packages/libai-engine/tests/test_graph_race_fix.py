"""libai.utils.graph_race_fix: the shim against OneFlow 0.9.0's lazy-job queue race.

Each case runs a fresh interpreter: the shim must be loaded before OneFlow, and
:func:`install` acts once per process. A stand-in library whose jobs always finish
before they are recorded shows the race and its fix deterministically (OneFlow's own
race depends on thread timing). The graph runs assert that liboneflow's calls really
go through the shim (its counters), that the losses are those of a run without it,
that ``libai-engine run`` and every launched rank have it, and that every way the fix
cannot apply leaves OneFlow working and says why, once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from libai.engine.testing import crash_signal
from libai.utils.graph_race_fix import (
    ONEFLOW_0_9_0_BUILD_ID,
    ElfError,
    build_shim,
    find_liboneflow,
    gnu_build_id,
)
from libai.utils.graph_race_fix._build import find_compiler
from runner import CONFIGS, check_ok, engine_env, losses, run_engine
from segfault_probe import run_child

STEPS = 6
needs_cc = pytest.mark.skipif(
    find_compiler() is None,
    reason="no C compiler (CC, cc or gcc): the fix cannot be built here; "
    "test_no_compiler_falls_back covers what happens then",
)

# A tiny graph trained for STEPS steps; weights come from numpy so that every process
# starts from the same values. Prints the fix's status, its counters and the losses.
GRAPH_RUN = f"""
import json, sys
import numpy as np
from libai.utils.oneflow_env import flow
from libai.utils import graph_race_fix

P = flow.placement("cpu", ranks=[0])
rng = np.random.default_rng(0)
model = flow.nn.Sequential(flow.nn.Linear(8, 16), flow.nn.GELU(), flow.nn.Linear(16, 1))
for p in model.parameters():
    p.data = flow.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3)
model = model.to_global(placement=P, sbp=flow.sbp.broadcast)
opt = flow.optim.SGD(model.parameters(), lr=0.05)

class Graph(flow.nn.Graph):
    def __init__(self):
        super().__init__()
        self.model = model
        self.add_optimizer(opt)

    def build(self, x, y):
        loss = ((self.model(x) - y) ** 2).mean()
        loss.backward()
        return loss

graph = Graph()
losses = []
for _ in range({STEPS}):
    x = flow.tensor(rng.standard_normal((4, 8)).astype("float32"), placement=P, sbp=flow.sbp.split(0))
    y = flow.tensor(rng.standard_normal((4, 1)).astype("float32"), placement=P, sbp=flow.sbp.split(0))
    losses.append(float(graph(x, y).to_local().numpy()))
# The last job's finish callback (the dequeue) runs on a VM thread after its outputs are
# readable: give it up to 30 s to land before the counters are read.
import time
stats, deadline = graph_race_fix.stats(), time.monotonic() + 30
while stats and stats["dequeues"] < stats["enqueues"] and time.monotonic() < deadline:
    time.sleep(0.01)
    stats = graph_race_fix.stats()
st = graph_race_fix.status()
print(json.dumps({{"applied": st.applied, "reason": st.reason, "compiled_now": st.compiled_now,
                  "stats": stats, "losses": losses}}))
"""


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return run_child([sys.executable, "-c", code], env, timeout=300)


def _env(cache: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LIBAI_GRAPH_RACE_FIX", "CC")}
    env.update(GLOG_minloglevel="2", LIBAI_CACHE_DIR=str(cache), **extra)
    return env


def _graph_run(env: dict, *, retry_on_crash: bool) -> dict:
    proc = _python(GRAPH_RUN, env)
    for _ in range(2 if retry_on_crash else 0):
        crash = crash_signal(proc.returncode)
        if crash is None:
            break
        # Only for runs without the fix: that is the crash the fix exists for. The race
        # corrupts the heap, so it ends in SIGSEGV or, caught by malloc, SIGABRT
        # ("free(): invalid next size").
        print(f"note: the unfixed graph run died of {crash.name}; retrying", file=sys.stderr)
        proc = _python(GRAPH_RUN, env)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_build_id_of_the_installed_liboneflow():
    # The pinned oneflow==0.9.0 wheel carries the liboneflow the shim was written for.
    liboneflow = find_liboneflow()
    assert liboneflow is not None and liboneflow.name.startswith("liboneflow")
    assert gnu_build_id(liboneflow) == ONEFLOW_0_9_0_BUILD_ID


@needs_cc
def test_build_id_reader_matches_the_linker(tmp_path):
    source = tmp_path / "x.c"
    source.write_text("int x(void) { return 1; }\n")
    wanted = "00112233445566778899aabbccddeeff01234567"
    for build_id, flag in ((wanted, f"-Wl,--build-id=0x{wanted}"), (None, "-Wl,--build-id=none")):
        lib = tmp_path / f"lib{build_id}.so"
        cmd = [*find_compiler(), "-shared", "-fPIC", flag, "-o", str(lib), str(source)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        assert gnu_build_id(lib) == build_id
    with pytest.raises(ElfError, match="x.c is not an ELF file"):
        gnu_build_id(source)


@needs_cc
def test_shim_is_active_and_changes_no_loss(tmp_path):
    cache = tmp_path / "cache"
    first = _graph_run(_env(cache), retry_on_crash=False)
    assert first["applied"] and first["reason"] == "active"
    assert first["compiled_now"]  # a fresh cache: compiled at first use
    # liboneflow's calls went through the shim: one enqueue and one dequeue per step.
    stats = first["stats"]
    assert stats["enqueues"] == stats["dequeues"] == STEPS, stats
    assert 0 <= stats["waits"] <= STEPS and stats["deferred"] == 0, stats
    assert len(list(cache.glob("graph-race-fix/*/lazy_job_queue.so"))) == 1

    second = _graph_run(_env(cache), retry_on_crash=False)
    assert second["applied"] and not second["compiled_now"]  # reused from the cache

    off = _graph_run(_env(cache, LIBAI_GRAPH_RACE_FIX="0"), retry_on_crash=True)
    assert not off["applied"] and off["reason"] == "turned off by LIBAI_GRAPH_RACE_FIX=0"
    assert off["stats"] is None
    assert first["losses"] == second["losses"] == off["losses"]
    assert len(off["losses"]) == STEPS and off["losses"][0] != off["losses"][-1]


# A stand-in for liboneflow with the same two exported methods, called through its PLT
# as liboneflow calls them: each job "finishes" (dequeue, on another thread) 20 ms
# before it is recorded (enqueue). Its dequeue aborts on an empty queue, where
# OneFlow's pops an empty std::deque.
RACE_LIB = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
struct policy { pthread_mutex_t mutex; int size; };
void dequeue(struct policy *p) __asm__("_ZN7oneflow2vm19LazyJobStreamPolicy14DequeueNNGraphEv");
void enqueue(struct policy *p, const void *graph) __asm__(
    "_ZN7oneflow2vm19LazyJobStreamPolicy14EnqueueNNGraphERKSt10shared_ptrINS_9NNGraphIfEE");
void dequeue(struct policy *p) {
    pthread_mutex_lock(&p->mutex);
    if (p->size == 0) { fprintf(stderr, "pop of an empty queue\n"); abort(); }
    --p->size;
    pthread_mutex_unlock(&p->mutex);
}
void enqueue(struct policy *p, const void *graph) {
    (void)graph;
    pthread_mutex_lock(&p->mutex);
    ++p->size;
    pthread_mutex_unlock(&p->mutex);
}
static void *finish(void *p) { dequeue(p); return NULL; }
int jobs_that_finish_first(int jobs) {
    static struct policy p = {PTHREAD_MUTEX_INITIALIZER, 0};
    for (int i = 0; i < jobs; ++i) {
        pthread_t thread;
        pthread_create(&thread, NULL, finish, &p);
        usleep(20000);
        enqueue(&p, NULL);
        pthread_join(thread, NULL);
    }
    return p.size;
}
"""


@needs_cc
def test_shim_makes_an_early_dequeue_wait_for_its_enqueue(tmp_path):
    source = tmp_path / "race.c"
    source.write_text(RACE_LIB)
    race_lib = tmp_path / "librace.so"
    cmd = [
        *find_compiler(),
        "-shared",
        "-fPIC",
        "-O0",
        "-pthread",
        "-o",
        str(race_lib),
        str(source),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)
    shim, _ = build_shim(ONEFLOW_0_9_0_BUILD_ID, tmp_path / "cache")
    run = (
        "import ctypes, json, sys;"
        "shim = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL) if sys.argv[1] else None;"
        "left = ctypes.CDLL(sys.argv[2]).jobs_that_finish_first(3);"
        "stats = (ctypes.c_long * 4)();"
        "shim and shim.libai_graph_race_fix_stats(stats);"
        "print(json.dumps([left, list(stats)]))"
    )
    env = _env(tmp_path / "cache")
    fixed = run_child([sys.executable, "-c", run, str(shim), str(race_lib)], env, timeout=120)
    assert fixed.returncode == 0, fixed.stderr
    # every dequeue waited for its enqueue: nothing left in the queue, nothing deferred
    assert json.loads(fixed.stdout) == [0, [3, 3, 3, 0]]
    unfixed = run_child([sys.executable, "-c", run, "", str(race_lib)], env, timeout=120)
    assert unfixed.returncode == -signal.SIGABRT
    assert "pop of an empty queue" in unfixed.stderr


def test_build_id_mismatch_is_not_applied_and_logged(tmp_path):
    # Any other ELF file stands for another OneFlow build: here the Python binary.
    other = Path(os.path.realpath(sys.executable))
    code = (
        "import json, sys; from pathlib import Path; from libai.utils import graph_race_fix as g;"
        f"st = g.install(Path({str(other)!r}));"
        "print(json.dumps([st.applied, st.build_id, g.stats(), 'oneflow' in sys.modules]))"
    )
    proc = _python(code, _env(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    applied, build_id, stats, oneflow_imported = json.loads(proc.stdout)
    assert (applied, stats, oneflow_imported) == (False, None, False)
    assert build_id == gnu_build_id(other) != ONEFLOW_0_9_0_BUILD_ID
    lines = [line for line in proc.stderr.splitlines() if "graph race fix" in line]
    assert lines == [
        f"OneFlow graph race fix not applied: {other} has build id {build_id}, not "
        f"{ONEFLOW_0_9_0_BUILD_ID} of OneFlow 0.9.0 from PyPI, which the fix was written for"
    ]
    assert not (tmp_path / "cache").exists()  # nothing compiled


def test_no_compiler_falls_back_once(tmp_path):
    code = (
        "import json; from libai.utils.oneflow_env import flow, ONEFLOW_VERSION;"
        "from libai.utils import graph_race_fix as g; g.install(); st = g.status();"
        "x = flow.ones(3).sum().item();"
        "print(json.dumps([ONEFLOW_VERSION, x, st.applied, st.reason, g.stats()]))"
    )
    proc = _python(code, _env(tmp_path / "cache", CC=str(tmp_path / "no-such-cc")))
    assert proc.returncode == 0, proc.stderr
    version, x, applied, reason, stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (version, x, applied, stats) == ("0.9.0", 3.0, False, None)
    assert reason.startswith(f"the compiler '{tmp_path / 'no-such-cc'}' (from CC) was not found")
    assert "--max-restarts" in reason
    said = [line for line in proc.stderr.splitlines() if "graph race fix" in line]
    assert said == [f"OneFlow graph race fix not applied: {reason}"]


def test_oneflow_imported_first_is_not_applied(tmp_path):
    code = (
        "import oneflow; from libai.utils import graph_race_fix as g;"
        "st = g.install(); print(st.applied, g.stats())"
    )
    proc = _python(code, _env(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "None"]
    assert "oneflow was imported before libai.utils.oneflow_env" in proc.stderr


def _graph_config(tmp_path: Path) -> Path:
    """tests/configs/toy_mlp.py preceded by ``import oneflow``, as a config that imports
    flowvision starts: the CLI must load the fix before the config imports OneFlow."""
    config = tmp_path / "toy_mlp_imports_oneflow.py"
    config.write_text("import oneflow  # noqa: F401\n" + (CONFIGS / "toy_mlp.py").read_text())
    return config


RUN_ARGS = ["graph.enabled=True", "train.train_iter=4", "train.evaluation.enabled=False"]


@needs_cc
def test_engine_run_has_the_fix(tmp_path):
    out = tmp_path / "out"
    proc = run_engine(
        [str(_graph_config(tmp_path)), f"train.output_dir={out}", *RUN_ARGS], tmp_path
    )
    check_ok(proc)
    assert "OneFlow graph race fix: active" in (out / "log.txt").read_text()
    assert sorted(losses(out)) == [0, 1, 2, 3]


@needs_cc
def test_every_launched_rank_has_the_fix(tmp_path):
    out = tmp_path / "out"
    port = str(random.randint(20000, 40000))
    cmd = [sys.executable, "-m", "oneflow.distributed.launch", "--nproc_per_node", "2",
           "--master_port", port, "--module", "libai.engine.cli", "run",
           str(_graph_config(tmp_path)), f"train.output_dir={out}",
           "train.dist.data_parallel_size=2", *RUN_ARGS]  # fmt: skip
    proc = run_child(cmd, engine_env(), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stderr[-4000:]}"
    for log in ("log.txt", "log.txt.rank1"):
        assert "OneFlow graph race fix: active" in (out / log).read_text(), log
