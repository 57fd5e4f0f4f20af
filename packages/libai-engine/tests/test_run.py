"""``libai-engine run`` end to end on the toy model: outputs, eager vs graph, accumulation, CLI modes.

Tolerances: eager and graph runs of the same config and seed agree to 1e-5
(absolute, on losses around 1.4; in practice they are bit-identical on the MLP),
and to 1e-4 relative on the transformer, where the graph fuses ops.
"""

import json
import math

import pytest
from libai.config import LazyConfig
from runner import CONFIGS, check_ok, losses, metrics, run_engine

MLP = str(CONFIGS / "toy_mlp.py")
LM = str(CONFIGS / "toy_lm.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The toy MLP trained four ways; each entry is the output dir."""
    base = tmp_path_factory.mktemp("runs")
    variants = {
        "eager": ["graph.enabled=False", "train.checkpointer.max_to_keep=1"],
        "graph": ["graph.enabled=True"],
        "eager_acc2": [
            "graph.enabled=False",
            "train.train_micro_batch_size=4",
            "train.num_accumulation_steps=2",
        ],
        "graph_acc2": [
            "graph.enabled=True",
            "train.train_micro_batch_size=4",
            "train.global_batch_size=8",
        ],
    }
    out = {}
    for name, opts in variants.items():
        out[name] = base / name
        proc = run_engine([MLP, f"train.output_dir={out[name]}", *opts], base)
        check_ok(proc)
        (out[name] / "stdout.txt").write_text(proc.stdout + proc.stderr)
    return out


def test_metrics_json_has_every_iteration_and_eval(runs):
    rows = metrics(runs["eager"])
    train_rows = [r for r in rows if "total_loss" in r]
    assert [r["iteration"] for r in train_rows] == list(range(12))
    # warmup: iteration 0 runs at lr * warmup_factor = 1e-2 * 0.1; 3 warmup iterations (ratio 0.25 of 12)
    assert train_rows[0]["lr"] == pytest.approx(1e-3)
    # then cosine over all 12 iterations down to alpha=0.1: lr * (0.9 * (1 + cos(pi * 3 / 12)) / 2 + 0.1)
    assert train_rows[3]["lr"] == pytest.approx(
        1e-2 * (0.9 * (1 + math.cos(math.pi * 3 / 12)) / 2 + 0.1)
    )
    assert all(0.5 < r["total_loss"] < 3 for r in train_rows)
    evals = [r for r in rows if "Acc@1" in r]
    assert [r["iteration"] for r in evals] == [5, 11]  # eval_period 6, and after training
    assert all(0 <= r["Acc@1"] <= 100 for r in evals)


def test_tensorboard_matches_metrics_json(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(runs["eager"]))
    acc.Reload()
    tb = {e.step: e.value for e in acc.Scalars("total_loss")}
    ref = losses(runs["eager"])
    assert sorted(tb) == sorted(ref)
    assert [tb[i] for i in sorted(tb)] == pytest.approx([ref[i] for i in sorted(ref)], rel=1e-6)
    # TensorBoard tags allow [-/\w.] only: tensorboardX writes "Acc@1" as "Acc_1".
    assert [e.value for e in acc.Scalars("Acc_1")] == [
        r["Acc@1"] for r in metrics(runs["eager"]) if "Acc@1" in r
    ]


def test_output_dir_contents(runs):
    out = runs["eager"]
    cfg = LazyConfig.load(str(out / "config.yaml"))
    assert (
        cfg.train.train_micro_batch_size,
        cfg.train.global_batch_size,
        cfg.train.num_accumulation_steps,
    ) == (8, 8, 1)
    assert cfg.model._target_ == "toy.ToyMLP"
    log = (out / "log.txt").read_text()
    assert "Starting training from iteration 0" in log and "iteration: 12/12" in log
    # max_to_keep=1: only the newest numbered checkpoint survives
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["model_0000007", "model_best", "model_final"]
    assert (out / "last_checkpoint").read_text().strip() == "model_final"
    extra = json.loads((out / "model_final" / "meta.json").read_text())["extra"]
    # the hooks' state too: the best Acc@1 so far and where it was first reached
    accs = [(r["Acc@1"], r["iteration"]) for r in metrics(out) if "Acc@1" in r]
    best = max(a for a, _ in accs)
    best_iter = next(it for a, it in accs if a == best)
    assert extra == {
        "iteration": 11,
        "consumed_samples": 12 * 8,
        "trainer": {"hooks": {"BestCheckpointer": {"best_metric": best, "best_iter": best_iter}}},
    }
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eager_and_graph_give_the_same_losses(runs):
    eager, graph = losses(runs["eager"]), losses(runs["graph"])
    assert sorted(graph) == list(range(12))
    for it in range(12):
        assert graph[it] == pytest.approx(eager[it], abs=1e-5), f"iteration {it}"
    acc_e = [r["Acc@1"] for r in metrics(runs["eager"]) if "Acc@1" in r]
    acc_g = [r["Acc@1"] for r in metrics(runs["graph"]) if "Acc@1" in r]
    assert acc_e == acc_g


@pytest.mark.parametrize("variant", ["eager_acc2", "graph_acc2"])
def test_gradient_accumulation_equals_the_full_batch(runs, variant):
    # 2 micro batches of 4 (the same 8 samples, in order) == one batch of 8
    ref, acc = losses(runs["eager"]), losses(runs[variant])
    assert sorted(acc) == list(range(12))
    for it in range(12):
        assert acc[it] == pytest.approx(ref[it], abs=1e-5), f"iteration {it}"
    cfg = LazyConfig.load(str(runs[variant] / "config.yaml"))
    assert (
        cfg.train.train_micro_batch_size,
        cfg.train.global_batch_size,
        cfg.train.num_accumulation_steps,
    ) == (4, 8, 2)


def test_eval_only_reproduces_the_final_evaluation(runs, tmp_path):
    final_acc = [r["Acc@1"] for r in metrics(runs["eager"]) if "Acc@1" in r][-1]
    proc = run_engine(
        [MLP, "--eval-only", f"train.output_dir={tmp_path / 'eval'}",
         f"train.load_weight={runs['eager'] / 'model_final'}",
         "+dataloader.test=[{_target_: toy.build_toy_test_loader, num_samples: 32}]"],
        tmp_path,
    )  # fmt: skip
    check_ok(proc)
    assert f"Acc@1={final_acc:g}" in proc.stdout + proc.stderr
    assert "Starting training" not in proc.stdout + proc.stderr


def test_fast_dev_run(tmp_path):
    out = tmp_path / "fast"
    proc = run_engine(
        [MLP, "--fast-dev-run", f"train.output_dir={out}", "train.train_iter=1000"], tmp_path
    )
    check_ok(proc)
    rows = metrics(out)
    assert [r["iteration"] for r in rows if "total_loss" in r] == list(range(20))
    assert [r["iteration"] for r in rows if "Acc@1" in r] == [9, 19]
    assert "iteration: 1/20" in proc.stdout  # log_period 1


def test_lm_with_tokenizer_and_sample_text_hook(tmp_path):
    eager = tmp_path / "lm_eager"
    proc = run_engine([LM, f"train.output_dir={eager}"], tmp_path)
    check_ok(proc)
    sample = (eager / "sample.txt").read_text().strip()
    assert sample.startswith("the quick") and len(sample) == len("the quick") + 8
    assert f"Sample after training:\n{sample}" in proc.stdout
    assert "Padded the vocabulary to 32" in proc.stdout
    first, last = losses(eager)[0], losses(eager)[29]
    assert last < first - 0.5  # it learns the repeated sentence


def test_graph_activation_checkpointing_and_amp_match_eager(tmp_path):
    eager, graph = tmp_path / "e", tmp_path / "g"
    check_ok(
        run_engine(
            [LM, f"train.output_dir={eager}", "train.train_iter=8", "train.hooks=[]"], tmp_path
        )
    )
    proc = run_engine(
        [LM, f"train.output_dir={graph}", "train.train_iter=8", "train.hooks=[]", "graph.enabled=True",
         "train.activation_checkpoint.enabled=True", "train.amp.enabled=True"],
        tmp_path,
    )  # fmt: skip
    check_ok(proc)
    # AMP cannot run on the CPU: said before training starts, then float32 training.
    assert "AMP is a no-op there and this run trains in float32" in proc.stderr
    assert proc.stdout.index("AMP is a no-op") < proc.stdout.index("Starting training")
    assert "nothing is recomputed" not in proc.stdout  # the TransformerLayers were marked
    le, lg = losses(eager), losses(graph)
    assert [lg[i] for i in range(8)] == pytest.approx([le[i] for i in range(8)], rel=1e-4)
