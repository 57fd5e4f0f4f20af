"""Llama training and generation speed on the CPU: libai-models-llama (eager, nn.Graph)
against transformers' ``LlamaForCausalLM`` on PyTorch, in the same sitting.

Three sizes (grouped-query attention, SwiGLU, untied head, vocabulary 4096):

    small   ~5 M parameters   hidden 256, 4 layers,  8 heads / 4 kv heads, MLP 688
    medium  ~20 M             hidden 512, 6 layers,  8 heads / 4 kv heads, MLP 1376
    large   ~60 M             hidden 768, 8 layers, 12 heads / 4 kv heads, MLP 2048

Training: AdamW steps on batch 2 x sequence 64 (128 tokens per step); tokens/s over the
timed steps after warm-up. Generation: batch 1, a 16-token prompt, 32 new tokens, greedy,
with the KV cache (``model.generate`` of libai.inference against transformers'
``generate``); new tokens/s.

    .tox/full/bin/python benchmarks/llama_bench.py [--sizes small medium] [--steps 5]

Both run with one thread (``OMP_NUM_THREADS=1`` unless set; ``torch.set_num_threads(1)``). The PyTorch half runs in ``--torch-python`` (default: .tox/reference/bin/python, which
has torch and transformers). The machine is shared with other jobs, so compare the
ratios of one sitting, not absolute numbers across sittings. Prints a markdown table
(``--out FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

SIZES = {
    "small": dict(hidden_size=256, hidden_layers=4, num_attention_heads=8, intermediate_size=688),
    "medium": dict(hidden_size=512, hidden_layers=6, num_attention_heads=8, intermediate_size=1376),
    "large": dict(hidden_size=768, hidden_layers=8, num_attention_heads=12, intermediate_size=2048),
}
COMMON = dict(vocab_size=4096, num_key_value_heads=4, max_position_embeddings=256)
BATCH, SEQ = 2, 64
PROMPT, NEW_TOKENS = 16, 32
DEFAULT_TORCH_PYTHON = ".tox/reference/bin/python"


def _per_second(step, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def _batch():
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(0, COMMON["vocab_size"], size=(BATCH, SEQ + 1))
    prompt = rng.integers(0, COMMON["vocab_size"], size=(1, PROMPT))
    return ids[:, :-1], ids[:, 1:], prompt


def _libai_step(model, mode: str, inputs, labels):
    """One AdamW training step of ``model`` in ``mode`` ("eager" or "graph")."""
    from libai.engine.graph_base import GraphBase
    from libai.utils.oneflow_env import flow

    optimizer = flow.optim.AdamW(model.parameters(), lr=1e-4)
    if mode == "graph":
        graph = GraphBase(model, optimizer, None, is_train=True)

        def step():
            graph(input_ids=inputs, labels=labels)["lm_loss"].to_local().numpy()

        return step

    def step():
        loss = model(input_ids=inputs, labels=labels)["lm_loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.to_local().numpy()

    return step


def bench_libai(size: str, warmup: int, steps: int) -> dict:
    os.environ.setdefault("GLOG_minloglevel", "2")
    # One thread, as PyTorch here: OneFlow's default of one OpenMP thread per core was 2x
    # (graph) to 5x (eager) slower on this shared machine (measured 2026-12-07, small size).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from libai.utils import distributed as dist
    from libai.utils.oneflow_env import flow
    from libai_llama.modeling import LlamaForCausalLM

    inputs, labels, prompt = _batch()
    placement = dist.get_layer_placement(0)
    sbp = dist.get_hidden_sbp()
    inputs = flow.tensor(inputs).to_global(placement=placement, sbp=sbp)
    labels = flow.tensor(labels).to_global(placement=placement, sbp=sbp)
    result = {}
    for mode in ("eager", "graph"):
        flow.manual_seed(0)
        model = LlamaForCausalLM(cfg=dict(COMMON, **SIZES[size]))
        result["params"] = sum(p.numel() for p in model.parameters())
        step = _libai_step(model, mode, inputs, labels)
        result[f"train_{mode}"] = _per_second(step, warmup, steps) * BATCH * SEQ
    model.eval()

    def generate():
        model.generate(
            flow.tensor(prompt),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            eos_token_id=None,
            use_cache=True,
        )

    result["generate"] = _per_second(generate, 1, 2) * NEW_TOKENS
    return result


def bench_torch(size: str, warmup: int, steps: int) -> dict:
    # transformers imports torchvision when installed, and the wheel next to torch 2.13
    # fails to load; nothing here needs it (as packages/libai-models/tests/fixtures).
    sys.modules.setdefault("torchvision", None)
    import torch
    import transformers

    # One thread: on this shared 2-core machine PyTorch's default two OpenMP threads wait
    # on each other and are several times slower (benchmarks/results-models.md).
    torch.set_num_threads(1)
    sizes = SIZES[size]
    config = transformers.LlamaConfig(
        vocab_size=COMMON["vocab_size"],
        hidden_size=sizes["hidden_size"],
        intermediate_size=sizes["intermediate_size"],
        num_hidden_layers=sizes["hidden_layers"],
        num_attention_heads=sizes["num_attention_heads"],
        num_key_value_heads=COMMON["num_key_value_heads"],
        max_position_embeddings=COMMON["max_position_embeddings"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs, labels, prompt = (torch.tensor(a) for a in _batch())

    def step():
        logits = model(input_ids=inputs).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
        )
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.item()

    result = {
        "params": sum(p.numel() for p in model.parameters()),
        "train_torch": _per_second(step, warmup, steps) * BATCH * SEQ,
        "threads": torch.get_num_threads(),
    }
    model.eval()

    def generate():
        with torch.no_grad():
            model.generate(
                prompt,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )

    result["generate_torch"] = _per_second(generate, 1, 2) * NEW_TOKENS
    return result


def _torch_in_subprocess(python: str, size: str, warmup: int, steps: int) -> dict:
    if not Path(python).exists():
        return {}
    proc = subprocess.run(
        [
            python,
            __file__,
            "--part",
            "torch",
            "--sizes",
            size,
            "--warmup",
            str(warmup),
            "--steps",
            str(steps),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])[size]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--part", choices=["all", "libai", "torch"], default="all")
    parser.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)

    results = {}
    for size in args.sizes:
        if args.part == "torch":
            results[size] = bench_torch(size, args.warmup, args.steps)
            continue
        results[size] = bench_libai(size, args.warmup, args.steps)
        if args.part == "all":
            results[size].update(
                _torch_in_subprocess(args.torch_python, size, args.warmup, args.steps)
            )
            print(f"{size}: {json.dumps(results[size])}", file=sys.stderr, flush=True)
    if args.part != "all":
        print(json.dumps(results))
        return 0

    def ratio(a, b):
        return f"{a / b:.2f}x" if a and b else "n/a"

    lines = [
        f"Llama on the CPU ({platform.machine()}, {os.cpu_count()} cores, shared), "
        f"{datetime.date.today()}: training tokens/s (batch {BATCH} x {SEQ}, AdamW, "
        f"{args.steps} steps after {args.warmup}), generation new tokens/s (greedy, KV cache, "
        f"{PROMPT}-token prompt, {NEW_TOKENS} new)",
        "",
        "| size | params | train eager | train graph | train torch | graph / torch "
        "| eager / torch | generate | generate torch | generate ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, r in results.items():
        torch_train, torch_gen = r.get("train_torch"), r.get("generate_torch")
        lines.append(
            f"| {size} | {r['params'] / 1e6:.1f} M | {r['train_eager']:.0f} | "
            f"{r['train_graph']:.0f} | {torch_train or 0:.0f} | "
            f"{ratio(r['train_graph'], torch_train)} | {ratio(r['train_eager'], torch_train)} | "
            f"{r['generate']:.1f} | {torch_gen or 0:.1f} | {ratio(r['generate'], torch_gen)} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
