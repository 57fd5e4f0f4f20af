"""Training-step speed of a small GPT on the CPU: libai (eager, nn.Graph) and PyTorch.

Model: hidden 256, 4 layers, 4 heads, FFN 1024, sequence 128, vocabulary 1024,
batch 4, AdamW, dropout 0 (tokens per step: 512).

    .tox/full/bin/python benchmarks/gpt_bench.py                 # all three
    .tox/full/bin/python benchmarks/gpt_bench.py --modes graph   # one
    python benchmarks/gpt_bench.py --modes torch                         # PyTorch only

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

HIDDEN, LAYERS, HEADS, FFN, SEQ, VOCAB, BATCH = 256, 4, 4, 1024, 128, 1024, 4
TOKENS_PER_STEP = SEQ * BATCH
DEFAULT_TORCH_PYTHON = ".tox/reference/bin/python"


def _timed(step, warmup: int, steps: int) -> float:
    """Steps per second over ``steps`` calls after ``warmup`` calls (loss read back each step)."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def bench_libai(mode: str, warmup: int, steps: int) -> float:
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
            hidden_size=HIDDEN,
            ffn_hidden_size=FFN,
            num_attention_heads=HEADS,
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


def bench_torch(warmup: int, steps: int, threads: int = 0) -> float:
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(HIDDEN), nn.LayerNorm(HIDDEN)
            self.qkv, self.proj = nn.Linear(HIDDEN, 3 * HIDDEN), nn.Linear(HIDDEN, HIDDEN)
            self.fc, self.out = nn.Linear(HIDDEN, FFN), nn.Linear(FFN, HIDDEN)

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, HEADS, -1).permute(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(-1, -2)) / (HIDDEN // HEADS) ** 0.5
            causal = torch.ones(s, s, dtype=torch.bool).tril()
            scores = scores.masked_fill(~causal, -10000.0)
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, HIDDEN)
            x = x + self.proj(context)
            return x + self.out(nn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, HIDDEN), nn.Embedding(SEQ, HIDDEN)
            self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln_f = nn.LayerNorm(HIDDEN)

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


def _torch_in_subprocess(python: str, mode: str, warmup: int, steps: int):
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
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)

    results = {}
    for mode in args.modes:
        if mode.startswith("torch"):
            threads = 1 if mode == "torch-1thread" else 0
            try:
                import torch  # noqa: F401
            except ImportError:
                results[mode] = _torch_in_subprocess(
                    args.torch_python, mode, args.warmup, args.steps
                )
            else:
                results[mode] = bench_torch(args.warmup, args.steps, threads)
        else:
            results[mode] = bench_libai(mode, args.warmup, args.steps)
    if args.json:
        print(json.dumps(results))
        return 0
    lines = [
        f"GPT training step, CPU ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores), {args.steps} timed steps after {args.warmup} warm-up",
        "",
        "| run | steps/s | tokens/s |",
        "| --- | ---: | ---: |",
    ]
    for mode, value in results.items():
        if value is None:
            lines.append(f"| {mode} | not run (no torch) | |")
        else:
            lines.append(f"| {mode} | {value:.2f} | {value * TOKENS_PER_STEP:,.0f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
