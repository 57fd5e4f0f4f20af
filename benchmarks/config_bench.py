"""Benchmark of libai.config: import, load, overrides, save+reload, instantiate.

Run with the dev venv from the repository root:

    .tox/full/bin/python benchmarks/config_bench.py [--repeat 7]

What is measured (median of ``--repeat`` runs unless said otherwise):

1. ``import libai.config`` in a fresh interpreter (``-X importtime``'s
   cumulative figure for the package, and the wall time of the process minus
   an empty interpreter's).
2. ``LazyConfig.load`` of a generated tree of 30 Python config files (nested
   directories, relative imports, ~600 LazyCall nodes and values): first load
   (cold: files compiled) and later loads (compiled code reused; the files are
   still executed every time).
3. ``LazyConfig.apply_overrides`` of 50 overrides on that config.
4. ``LazyConfig.save`` of that config to YAML plus ``LazyConfig.load`` of it.
5. ``instantiate`` of a config of 2,000 LazyCall nodes, against the time
   omegaconf itself needs to read those nodes (``OmegaConf.to_container`` with
   interpolations resolved).
6. Provenance of every key of the 30-file config after the 50 overrides
   (``libai.config.provenance.config_provenance``, what ``show --provenance``
   prints), against a later load of that config.

Targets (2-core machine): import < 120 ms; 30-file load < 150 ms;
save+reload < 200 ms; instantiate <= 1.5 x omegaconf's read; provenance
< 10% of a load (CPU time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable

N_MODEL_FILES = 12
N_DATA_FILES = 8
N_OPTIM_FILES = 5
N_TRAIN_FILES = 4  # + 1 experiment file = 30 files


class Layer:
    """A trivial target: the cost measured is the config machinery's."""

    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs


def median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """(first run's wall, median wall, median CPU) of ``repeat`` + 1 runs, in ms.

    The CPU time (``time.process_time``) is reported beside the wall time: on a
    machine shared with other jobs it shows what the code costs, while the wall
    time also counts the time spent waiting for a core.
    """
    walls, cpus = [], []
    for _ in range(repeat + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - start_cpu) * 1000)
    return walls[0], statistics.median(walls[1:]), statistics.median(cpus[1:])


# -- 1. import time -----------------------------------------------------------


def _child_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def import_time(repeat: int) -> tuple[float, float, float]:
    """Medians in ms: -X importtime cumulative, and the wall and CPU time of
    ``python -c "import libai.config"`` minus those of ``python -c pass``."""
    cumulative, wall, cpu = [], [], []
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="0")
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import libai.config"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        for line in out.stderr.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == "libai.config":
                cumulative.append(int(parts[1]) / 1000)
        c0, t0 = _child_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", "import libai.config"], check=True, env=env)
        c1, t1 = _child_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        c2, t2 = _child_cpu(), time.perf_counter()
        wall.append(((t1 - t0) - (t2 - t1)) * 1000)
        cpu.append(((c1 - c0) - (c2 - c1)) * 1000)
    return statistics.median(cumulative), statistics.median(wall), statistics.median(cpu)


# -- 2. a generated 30-file config tree ----------------------------------------


def write_tree(root: Path) -> Path:
    """Write 30 config files under ``root``; return the experiment file."""

    def write(rel: str, source: str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")

    for i in range(N_MODEL_FILES):
        write(
            f"common/models/family{i % 3}/model{i}.py",
            f"""
            from libai.config import LazyCall

            cfg{i} = dict(hidden_size={64 * (i + 1)}, layers={i + 2}, heads=8, dropout=0.1,
                          vocab_size=30522, act="gelu", norm_eps=1e-5, tie_embeddings=True)
            model{i} = LazyCall("types.SimpleNamespace")(
                cfg=cfg{i},
                blocks=[LazyCall("types.SimpleNamespace")(index=j, width={64 * (i + 1)}, scale=0.5)
                        for j in range(8)],
            )
            """,
        )
    for i in range(N_DATA_FILES):
        write(
            f"common/data/loader{i}.py",
            f"""
            from libai.config import LazyCall

            data{i} = dict(
                train=LazyCall("types.SimpleNamespace")(
                    dataset=[LazyCall("types.SimpleNamespace")(prefix="data/part{{}}".format(k),
                                                               seq_length=512) for k in range(6)],
                    num_workers=4, shuffle=True, seed={i},
                ),
                test=[LazyCall("types.SimpleNamespace")(prefix="data/test", seq_length=512)],
            )
            """,
        )
    for i in range(N_OPTIM_FILES):
        write(
            f"common/optim/optim{i}.py",
            f"""
            from libai.config import LazyCall

            optim{i} = LazyCall("types.SimpleNamespace")(
                params=LazyCall("types.SimpleNamespace")(weight_decay_norm=0.0, weight_decay_bias=0.0,
                                                          clip_grad_max_norm=1.0),
                lr={1e-4 * (i + 1)}, weight_decay=0.01, betas=(0.9, 0.999), eps=1e-8,
            )
            """,
        )
    for i in range(N_TRAIN_FILES):
        base = "from ..train.train0 import train0 as base\n" if i else ""
        write(
            f"common/train/train{i}.py",
            base
            + f"""
from libai.config import LazyCall

train{i} = dict(
    output_dir="output/{i}", train_micro_batch_size=32, global_batch_size=None, train_iter=10000,
    warmup_ratio=0.01, log_period=20, seed=1234,
    checkpointer=dict(period=5000, max_to_keep=100),
    evaluation=dict(enabled=True, eval_period=5000, eval_metric="Acc@1", eval_mode="max",
                    evaluator=LazyCall("types.SimpleNamespace")(topk=(1, 5))),
    scheduler=LazyCall("types.SimpleNamespace")(warmup_factor=0.001, alpha=0.01),
    dist=dict(data_parallel_size=1, tensor_parallel_size=1, pipeline_parallel_size=1),
)
""",
        )
    imports = []
    for i in range(N_MODEL_FILES):
        imports.append(f"from ...common.models.family{i % 3}.model{i} import model{i}")
    imports += [f"from ...common.data.loader{i} import data{i}" for i in range(N_DATA_FILES)]
    imports += [f"from ...common.optim.optim{i} import optim{i}" for i in range(N_OPTIM_FILES)]
    imports += [f"from ...common.train.train{i} import train{i}" for i in range(N_TRAIN_FILES)]
    body = "\n".join(imports) + textwrap.dedent(
        """

        model = dict(**{f"m{i}": globals()[f"model{i}"] for i in range(12)})
        dataloader = dict(**{f"d{i}": globals()[f"data{i}"] for i in range(8)})
        optim = optim0
        train = train0
        graph = dict(enabled=False, debug=-1)
        tokenization = dict(append_eod=False, make_vocab_size_divisible_by=128)
        """
    )
    write("experiments/nlp/bert_pretrain.py", body)
    return root / "experiments" / "nlp" / "bert_pretrain.py"


def overrides_for(cfg: object) -> list[str]:
    """50 overrides touching every namespace."""
    out = []
    for i in range(12):
        out.append(f"model.m{i}.cfg.hidden_size={128 + i}")
        out.append(f"model.m{i}.blocks.0.scale=0.25")
    for i in range(8):
        out.append(f"dataloader.d{i}.train.num_workers=2")
        out.append(f"dataloader.d{i}.train.seed={i + 10}")
    out += [
        "optim.lr=0.0003",
        "optim.weight_decay=0.05",
        "optim.eps=1e-6",
        "train.train_iter=100",
        "train.log_period=5",
        "train.output_dir=/tmp/out",
        "train.dist.data_parallel_size=2",
        "train.evaluation.enabled=false",
        "train.checkpointer.period=50",
        "graph.enabled=true",
    ]
    return out[:50]


# -- 5. instantiate of 2,000 nodes ---------------------------------------------


def instantiate_cfg() -> object:
    from libai.config import LazyCall
    from omegaconf import DictConfig

    groups = {}
    for g in range(20):
        groups[f"stage{g}"] = dict(
            layers=[
                LazyCall(Layer)(index=i, hidden=64, act="gelu", dropout=0.1, shape=[64, 64])
                for i in range(100)
            ],
        )
    return DictConfig(groups, flags={"allow_objects": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    repeat = args.repeat

    from libai.config import LazyConfig, instantiate
    from omegaconf import OmegaConf

    rows = []  # (name, wall ms, cpu ms, ratio, target)
    imp_cum, imp_wall, imp_cpu = import_time(repeat)
    rows.append(("import libai.config (-X importtime cumulative)", imp_cum, None, None, 120))
    rows.append(("import libai.config (process, minus empty python)", imp_wall, imp_cpu, None, 120))

    with tempfile.TemporaryDirectory() as tmp:
        exp = write_tree(Path(tmp) / "configs")
        n_files = len(list(Path(tmp).rglob("*.py")))
        assert n_files == 30, n_files
        cold, warm, warm_cpu = median_ms(lambda: LazyConfig.load(exp), repeat)
        rows.append(("load 30-file config, first call (compiles)", cold, None, None, 150))
        rows.append(("load 30-file config, later calls (execute)", warm, warm_cpu, None, 150))

        cfg = LazyConfig.load(exp)
        overrides = overrides_for(cfg)
        assert len(overrides) == 50

        # Provenance (`show --provenance`): read on demand from the files' syntax
        # trees, so `load` itself is unchanged; its own cost must stay < 10% of a load.
        from libai.config.provenance import config_provenance

        _, prov, prov_cpu = median_ms(lambda: config_provenance(cfg, exp, overrides), repeat)
        rows.append(
            ("provenance of every key (+50 overrides)", prov, prov_cpu, prov_cpu / warm_cpu, 0.1)
        )
        copies = iter([LazyConfig.load(exp) for _ in range(repeat + 1)])
        _, ov, ov_cpu = median_ms(
            lambda: LazyConfig.apply_overrides(next(copies), overrides), repeat
        )
        rows.append(("apply 50 overrides", ov, ov_cpu, None, None))

        out = Path(tmp) / "config.yaml"

        def save_reload() -> None:
            LazyConfig.save(cfg, out)
            LazyConfig.load(out)

        _, sr, sr_cpu = median_ms(save_reload, repeat)
        _, sv, sv_cpu = median_ms(lambda: LazyConfig.save(cfg, out), repeat)
        _, rl, rl_cpu = median_ms(lambda: LazyConfig.load(out), repeat)
        rows.append(("save + reload YAML", sr, sr_cpu, None, 200))
        rows.append(("  of which save", sv, sv_cpu, None, None))
        rows.append(("  of which reload", rl, rl_cpu, None, None))
        n_nodes = OmegaConf.to_yaml(OmegaConf.load(out)).count("_target_")

    big = instantiate_cfg()
    _, read, read_cpu = median_ms(lambda: OmegaConf.to_container(big, resolve=True), repeat)
    _, inst, inst_cpu = median_ms(lambda: instantiate(big), repeat)
    rows.append(("omegaconf reads 2,000 LazyCall nodes (to_container)", read, read_cpu, None, None))
    rows.append(("instantiate 2,000 LazyCall nodes", inst, inst_cpu, inst_cpu / read_cpu, 1.5))

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; LazyCall nodes in the 30-file config: {n_nodes}"
    )
    print("| measurement | wall ms | CPU ms | ratio (CPU) | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, ms, cpu_ms, ratio, target in rows:
        cpu_text = f"{cpu_ms:.1f}" if cpu_ms is not None else ""
        ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
        if target is None:
            target_text = ""
        elif ratio is not None and target < 1:
            target_text = f"< {target:.0%} of a load"
        elif ratio is not None:
            target_text = f"<= {target}x omegaconf read"
        else:
            target_text = f"< {target} ms"
        print(f"| {name} | {ms:.1f} | {cpu_text} | {ratio_text} | {target_text} |")


if __name__ == "__main__":
    main()
