"""Training-step speed of a small GPT on the CPU: libai (eager, nn.Graph) and PyTorch.

Model: hidden 256, 4 layers, 4 heads, FFN 1024 (by default), sequence 128, vocabulary 1024,
batch 4, AdamW, dropout 0 (tokens per step: 512).

    .tox/full/bin/python benchmarks/gpt_bench.py                 # all modes
    .tox/full/bin/python benchmarks/gpt_bench.py --modes graph   # one
    .tox/full/bin/python benchmarks/gpt_bench.py --hidden 128 256 512   # scaling
    .tox/full/bin/python benchmarks/gpt_bench.py --breakdown     # ms per module type
    python benchmarks/gpt_bench.py --modes torch                         # PyTorch only

``--hidden`` runs the same model at other widths (FFN 4x hidden, head size 64 while the
width allows, so hidden 128/256/512 have 2/4/8 heads). ``--breakdown`` times each module
type of the libai GPT on its own, eagerly: forward, then forward + backward, each
synchronised by reading a value back, with the inputs the module received in a real step;
the table gives milliseconds per step (fastest repeat per call, summed over the calls of
a step), plus AdamW's step and the whole eager step (mean) to compare the sum with.
``--clock cpu`` times by the CPU time of this process (all threads) instead of wall time:
on a machine shared with other jobs it moves far less, but it understates runs that
use both cores (and makes PyTorch's spinning OpenMP threads look very slow).

``torch`` uses PyTorch's default threads, ``torch-1thread`` one thread: on a shared,
oversubscribed machine PyTorch's OpenMP threads wait on each other and the default can be
10x slower than one thread, so both are reported. The PyTorch run needs torch; when the current interpreter has none, the script runs
that part with ``--torch-python`` (default: .tox/reference/bin/python if present).
Results are printed as a markdown table; ``--out FILE`` also writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HIDDEN, LAYERS, SEQ, VOCAB, BATCH = 256, 4, 128, 1024, 4
TOKENS_PER_STEP = SEQ * BATCH
HEAD_SIZE = 64
# Module types timed by --breakdown (class names): together they are the whole forward.
BREAKDOWN_TYPES = (
    "GPTEmbedding",
    "LayerNorm",
    "MultiheadAttention",
    "MLP",
    "LMLogits",
    "GPTLoss",
)


def _heads(hidden: int) -> int:
    return max(1, hidden // HEAD_SIZE)


DEFAULT_TORCH_PYTHON = ".tox/reference/bin/python"


# Wall time by default; --clock cpu counts the CPU time of this process (all its threads),
# which moves much less than wall time when other jobs share the cores.
_CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = _CLOCK["wall"]


def _timed(step, warmup: int, steps: int) -> float:
    """Steps per second over ``steps`` calls after ``warmup`` calls (loss read back each step)."""
    for _ in range(warmup):
        step()
    start = _clock()
    for _ in range(steps):
        step()
    return steps / (_clock() - start)


def _libai_setup(hidden: int):
    """The libai GPT, its AdamW and one batch (global tensors) at width ``hidden``."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import numpy as np
    from libai.models import GPTForPreTraining
    from libai.utils import distributed as dist
    from libai.utils.oneflow_env import flow

    flow.manual_seed(0)
    model = GPTForPreTraining(
        cfg=dict(
            hidden_layers=LAYERS,
            vocab_size=VOCAB,
            hidden_size=hidden,
            ffn_hidden_size=4 * hidden,
            num_attention_heads=_heads(hidden),
            max_seq_length=SEQ,
            embedding_dropout_prob=0.0,
            attention_dropout_prob=0.0,
            output_dropout_prob=0.0,
            # LiBai's defaults: requested fusions fall back to exact ops on the CPU.
            bias_gelu_fusion=True,
            bias_dropout_fusion=True,
            scale_mask_softmax_fusion=True,
            apply_query_key_layer_scaling=True,
        )
    )
    optimizer = flow.optim.AdamW(model.parameters(), lr=1e-4)
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(BATCH, SEQ + 1))
    placement = dist.get_layer_placement(0)
    sbp = dist.get_hidden_sbp()
    inputs = flow.tensor(ids[:, :-1]).to_global(placement=placement, sbp=sbp)
    labels = flow.tensor(ids[:, 1:]).to_global(placement=placement, sbp=sbp)
    return model, optimizer, inputs, labels


def bench_libai(mode: str, warmup: int, steps: int, hidden: int = HIDDEN) -> float:
    model, optimizer, inputs, labels = _libai_setup(hidden)

    if mode == "graph":
        from libai.engine.graph_base import GraphBase

        graph = GraphBase(model, optimizer, None, is_train=True)

        def step():
            graph(input_ids=inputs, labels=labels)["lm_loss"].to_local().numpy()

    else:

        def step():
            loss = model(input_ids=inputs, labels=labels)["lm_loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss.to_local().numpy()

    return _timed(step, warmup, steps)


def breakdown_libai(warmup: int, steps: int, hidden: int = HIDDEN) -> dict:
    """Milliseconds per training step spent in each module type, timed eagerly in isolation.

    One real forward records every call of a module whose class is in ``BREAKDOWN_TYPES``
    (with its inputs). Each recorded call is then replayed ``steps`` times: forward
    alone, and forward + backward (gradient of the output: a fixed random tensor), each
    synchronised by reading a value back; the fastest repeat counts (the least disturbed
    on a shared machine). Backward = (forward + backward) - forward.
    Returns ``{type: {"calls", "forward_ms", "backward_ms"}}`` plus ``"AdamW step"`` and
    the eager step it is compared with.
    """
    import numpy as np

    model, optimizer, inputs, labels = _libai_setup(hidden)
    calls: list = []

    def recording(module):
        # OneFlow 0.9.0's forward pre-hooks see positional arguments only (and cannot be
        # removed): wrap the instance's forward instead, then drop the wrapper.
        forward = module.forward

        def record(*args, **kwargs):
            calls.append((type(module).__name__, module, args, kwargs))
            return forward(*args, **kwargs)

        return record

    wrapped = [m for m in model.modules() if type(m).__name__ in BREAKDOWN_TYPES]
    for module in wrapped:
        module.forward = recording(module)
    model(input_ids=inputs, labels=labels)["lm_loss"].to_local().numpy()
    for module in wrapped:
        del module.forward

    rng = np.random.default_rng(0)
    results: dict = {}
    for name, module, args, kwargs in calls:
        fwd, bwd = _time_call(module, args, kwargs, rng, warmup, steps)
        row = results.setdefault(name, {"calls": 0, "forward_ms": 0.0, "backward_ms": 0.0})
        row["calls"] += 1
        row["forward_ms"] += fwd
        row["backward_ms"] += bwd
    optimizer.zero_grad()

    model(input_ids=inputs, labels=labels)["lm_loss"].backward()

    def adamw():
        optimizer.step()
        _sync(next(model.parameters()))

    results["AdamW step"] = {"calls": 1, "forward_ms": _fastest_ms(adamw, warmup, steps)}
    optimizer.zero_grad()
    results["eager step (whole model)"] = {
        "calls": 1,
        "forward_ms": 1e3 / bench_libai("eager", warmup, steps, hidden),
    }
    return results


def _sync(tensor) -> None:
    tensor.to_local().numpy()


def _output_of(result):
    if isinstance(result, dict):
        return next(iter(result.values()))
    if isinstance(result, (tuple, list)):
        return result[0]
    return result


def _time_call(module, args: tuple, kwargs: dict, rng, warmup: int, steps: int) -> tuple:
    """(forward ms, backward ms) of one recorded call, replayed on detached copies of its inputs."""
    import numpy as np
    from libai.utils.oneflow_env import flow

    leaves = [
        a.detach().clone().requires_grad_()
        if isinstance(a, flow.Tensor) and a.is_floating_point()
        else a
        for a in args
    ]
    out = _output_of(module(*leaves, **kwargs))
    grad = flow.tensor(rng.standard_normal(tuple(out.shape)).astype(np.float32))
    grad = grad.to_global(placement=out.placement, sbp=out.sbp)

    def forward():
        _sync(_output_of(module(*leaves, **kwargs)))

    def forward_backward():
        o = _output_of(module(*leaves, **kwargs))
        o.backward(grad)
        _sync(leaves[0].grad if leaves[0].requires_grad else o)

    fwd = _fastest_ms(forward, warmup, steps)
    both = _fastest_ms(forward_backward, warmup, steps)
    return fwd, max(both - fwd, 0.0)


def _fastest_ms(call, warmup: int, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls, in ms: the least disturbed by other jobs."""
    for _ in range(warmup):
        call()
    best = float("inf")
    for _ in range(repeats):
        start = _clock()
        call()
        best = min(best, _clock() - start)
    return best * 1e3


def _breakdown_table(results: dict) -> list:
    lines = [
        "| module type | calls/step | forward ms | backward ms | total ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    total = 0.0
    for name, row in results.items():
        fwd, bwd = row["forward_ms"], row.get("backward_ms")
        both = fwd + (bwd or 0.0)
        if name != "eager step (whole model)":
            total += both
        bwd_text = "" if bwd is None else f"{bwd:.2f}"
        lines.append(f"| {name} | {row['calls']} | {fwd:.2f} | {bwd_text} | {both:.2f} |")
    lines.insert(-1, f"| sum of the rows above | | | | {total:.2f} |")
    return lines


def bench_torch(warmup: int, steps: int, threads: int = 0, hidden: int = HIDDEN) -> float:
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    heads, ffn = _heads(hidden), 4 * hidden

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
            self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.fc, self.out = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, heads, -1).permute(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(-1, -2)) / (hidden // heads) ** 0.5
            causal = torch.ones(s, s, dtype=torch.bool).tril()
            scores = scores.masked_fill(~causal, -10000.0)
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, hidden)
            x = x + self.proj(context)
            return x + self.out(nn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, hidden), nn.Embedding(SEQ, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln_f = nn.LayerNorm(hidden)

        def forward(self, ids, labels):
            x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
            for block in self.blocks:
                x = block(x)
            logits = self.ln_f(x) @ self.wte.weight.T
            return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1))

    model = GPT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ + 1))

    def step():
        loss = model(ids[:, :-1], ids[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.item()

    return _timed(step, warmup, steps)


def _torch_in_subprocess(python: str, mode: str, warmup: int, steps: int, hidden: int):
    if not Path(python).exists():
        return None
    proc = subprocess.run(
        [
            python,
            __file__,
            "--modes",
            mode,
            "--json",
            "--warmup",
            str(warmup),
            "--steps",
            str(steps),
            "--hidden",
            str(hidden),
            "--clock",
            "cpu" if _clock is time.process_time else "wall",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])[mode]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["eager", "graph", "torch", "torch-1thread"],
        choices=["eager", "graph", "torch", "torch-1thread"],
    )
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[HIDDEN],
        help="model widths to run (FFN 4x, head size 64); default %(default)s",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="time each module type of the libai GPT (eager) instead of whole steps",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(_CLOCK),
        default="wall",
        help="wall time, or CPU time of this process (steadier on a shared machine)",
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    global _clock
    _clock = _CLOCK[args.clock]

    def header() -> str:
        # Read after the runs: importing libai may have chosen OPENBLAS_CORETYPE.
        return (
            f"GPT training step, CPU ({platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores), {args.steps} timed steps after {args.warmup} warm-up, "
            f"{args.clock} clock, "
            f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
        )

    if args.breakdown:
        lines = []
        for hidden in args.hidden:
            lines += ["", f"hidden {hidden}, eager, ms per step:", ""]
            lines += _breakdown_table(breakdown_libai(args.warmup, args.steps, hidden))
        return _emit("\n".join([header(), *lines]), args.out)

    results = {}
    for hidden in args.hidden:
        for mode in args.modes:
            if mode.startswith("torch"):
                threads = 1 if mode == "torch-1thread" else 0
                try:
                    import torch  # noqa: F401
                except ImportError:
                    value = _torch_in_subprocess(
                        args.torch_python, mode, args.warmup, args.steps, hidden
                    )
                else:
                    value = bench_torch(args.warmup, args.steps, threads, hidden)
            else:
                value = bench_libai(mode, args.warmup, args.steps, hidden)
            results[f"{mode}@{hidden}" if len(args.hidden) > 1 else mode] = value
    if args.json:
        print(json.dumps(results))
        return 0
    lines = [header(), "", "| run | steps/s | tokens/s |", "| --- | ---: | ---: |"]
    for mode, value in results.items():
        if value is None:
            lines.append(f"| {mode} | not run (no torch) | |")
        else:
            lines.append(f"| {mode} | {value:.2f} | {value * TOKENS_PER_STEP:,.0f} |")
    return _emit("\n".join(lines), args.out)


def _emit(text: str, out) -> int:
    print(text)
    if out:
        out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
