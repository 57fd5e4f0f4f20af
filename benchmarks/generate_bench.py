"""Generation speed on the CPU: libai's ``generate`` (with and without the KV cache) and
transformers' ``generate`` on the same GPT-2 weights, in the same sitting.

Sizes (GPT-2 layout, ``n_positions`` 1024): ``1m`` (hidden 128, 4 layers, vocab 1024,
1.05 M parameters), ``10m`` (256, 8, 8192: 8.7 M), ``50m`` (512, 12, 16384: 46.7 M).
For each size and batch (1 and 8): greedy search from a 16-token prompt to 128 new
tokens (``min_new_tokens`` = ``max_new_tokens``, so no run stops early), new tokens per
second; then the time to the first new token for a 512-token prompt (batch 1).

    .tox/full/bin/python benchmarks/generate_bench.py                    # everything
    .tox/full/bin/python benchmarks/generate_bench.py --sizes 1m --batches 1 --out r.md

The weights are a randomly initialised ``transformers`` GPT-2 saved with
``save_pretrained`` and loaded into libai with ``GPT2LoaderHuggerFace``. The torch side
runs in a separate interpreter that has torch (``--torch-python``, default
``.tox/reference/bin/python``), once with one thread and once with torch's default
threads (on a shared machine the default can be slower: its OpenMP threads wait on each
other). Every measurement repeats ``--repeats`` times and keeps the best.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {
    "1m": dict(n_embd=128, n_layer=4, n_head=4, vocab_size=1024),
    "10m": dict(n_embd=256, n_layer=8, n_head=8, vocab_size=8192),
    "50m": dict(n_embd=512, n_layer=12, n_head=8, vocab_size=16384),
}
PROMPT, NEW, TTFT_PROMPT = 16, 128, 512
DEFAULT_TORCH_PYTHON = ".tox/reference/bin/python"


def make_checkpoint(size: str, directory: str) -> None:
    """(torch side) a random GPT-2 of ``size`` saved with save_pretrained."""
    sys.modules.setdefault("torchvision", None)
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(
        attn_implementation="eager", n_positions=1024, **SIZES[size], bos_token_id=0, eos_token_id=0
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(directory)


def _prompts(vocab: int, batch: int, length: int):
    import numpy as np

    return np.random.default_rng(0).integers(1, vocab, size=(batch, length)).astype("int64")


def bench_torch(directory: str, batches: list, threads: int, repeats: int, new: int) -> dict:
    """(torch side) tokens/s per batch and time to first token, as a dict."""
    sys.modules.setdefault("torchvision", None)
    import torch
    import transformers

    if threads:
        torch.set_num_threads(threads)
    model = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    vocab = model.config.vocab_size
    out = {"threads": torch.get_num_threads()}
    with torch.no_grad():
        for batch in batches:
            ids = torch.tensor(_prompts(vocab, batch, PROMPT))
            kw = dict(max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
            model.generate(ids, max_new_tokens=4, min_new_tokens=4, pad_token_id=0)  # warm up
            best = min(_time(model.generate, ids, **kw) for _ in range(repeats))
            out[f"tps_b{batch}"] = batch * new / best
        ids = torch.tensor(_prompts(vocab, 1, TTFT_PROMPT))
        kw = dict(max_new_tokens=1, min_new_tokens=1, pad_token_id=0)
        out["ttft"] = min(_time(model.generate, ids, **kw) for _ in range(repeats))
    return out


def _time(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def bench_libai(directory: str, batches: list, repeats: int, new: int, no_cache: bool) -> dict:
    os.environ.setdefault("GLOG_minloglevel", "2")
    from libai.models import GPTForPreTraining
    from libai.models.utils.model_loader import GPT2LoaderHuggerFace

    model = GPT2LoaderHuggerFace(GPTForPreTraining, None, directory).load().eval()
    vocab = model.cfg.vocab_size
    out = {}
    for batch in batches:
        ids = _prompts(vocab, batch, PROMPT)
        model.generate(ids, max_new_tokens=4, min_new_tokens=4)  # warm up
        for use_cache in (True, False) if no_cache else (True,):
            kw = dict(max_new_tokens=new, min_new_tokens=new, use_cache=use_cache)
            best = min(_time(model.generate, ids, **kw) for _ in range(repeats))
            out[f"tps_b{batch}_{'cache' if use_cache else 'nocache'}"] = batch * new / best
    ids = _prompts(vocab, 1, TTFT_PROMPT)
    kw = dict(max_new_tokens=1, min_new_tokens=1)
    out["ttft"] = min(_time(model.generate, ids, **kw) for _ in range(repeats))
    return out


def _torch_call(python: str, *args: str) -> dict:
    proc = subprocess.run(
        [python, __file__, *args], capture_output=True, text=True, timeout=7200, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"torch side failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--new-tokens", type=int, default=NEW)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--no-cache-sizes",
        nargs="*",
        default=None,
        help="sizes to also run without the KV cache (default: all)",
    )
    parser.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON)
    parser.add_argument("--out", help="also write the markdown table here")
    parser.add_argument("--_torch", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--_make", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._make:
        make_checkpoint(*args._make)
        print("{}")
        return
    if args._torch:
        directory, batches, threads, repeats = args._torch
        batches = [int(b) for b in batches.split(",")]
        print(
            json.dumps(bench_torch(directory, batches, int(threads), int(repeats), args.new_tokens))
        )
        return

    load = os.getloadavg()[0]
    rows = []
    batches = ",".join(str(b) for b in args.batches)
    no_cache = set(args.sizes if args.no_cache_sizes is None else args.no_cache_sizes)
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"gen-bench-{size}-") as directory:
            _torch_call(args.torch_python, "--_make", size, directory)
            ours = bench_libai(
                directory, args.batches, args.repeats, args.new_tokens, size in no_cache
            )
            common = ["--new-tokens", str(args.new_tokens)]
            one = _torch_call(
                args.torch_python, *common, "--_torch", directory, batches, "1", str(args.repeats)
            )
            default = _torch_call(
                args.torch_python, *common, "--_torch", directory, batches, "0", str(args.repeats)
            )
        rows.append((size, ours, one, default))
        print(
            json.dumps({"size": size, "libai": ours, "torch1": one, "torch_default": default}),
            flush=True,
        )

    lines = [
        f"generate_bench.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        f"{load:.1f} at the start; {args.new_tokens} new tokens from a {PROMPT}-token prompt "
        f"(greedy), tokens/s (best of {args.repeats}); TTFT = seconds to the first token of a "
        f"{TTFT_PROMPT}-token prompt.",
        "",
        "| size | batch | libai cache | libai no cache | cache/no cache | torch 1 thread | "
        "torch default | libai/torch (best torch) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size, ours, one, default in rows:
        for batch in args.batches:
            cache = ours[f"tps_b{batch}_cache"]
            nocache = ours.get(f"tps_b{batch}_nocache")
            best_torch = max(one[f"tps_b{batch}"], default[f"tps_b{batch}"])
            lines.append(
                f"| {size} | {batch} | {cache:.1f} | "
                f"{'' if nocache is None else f'{nocache:.1f}'} | "
                f"{'' if nocache is None else f'{cache / nocache:.1f}x'} | "
                f"{one[f'tps_b{batch}']:.1f} | {default[f'tps_b{batch}']:.1f} "
                f"({default['threads']} threads) | {cache / best_torch:.2f}x |"
            )
    lines += [
        "",
        "| size | TTFT libai (s) | TTFT torch 1 thread (s) | TTFT torch default (s) |",
        "| --- | --- | --- | --- |",
    ]
    for size, ours, one, default in rows:
        lines.append(f"| {size} | {ours['ttft']:.3f} | {one['ttft']:.3f} | {default['ttft']:.3f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
