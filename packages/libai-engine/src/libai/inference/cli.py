"""``libai-engine generate``: continue prompts with a trained (or Hugging Face) model.

::

    libai-engine generate configs/quickstart.py --model-path output/quickstart/model_final \\
        --prompt "MACBETH:" --max-new-tokens 40 --do-sample --top-k 20 --seed 0

Everything the user can get wrong is checked before a model is built and reported as
:class:`~libai.config.cli.UserError` (exit 2): the config's namespaces, a mode that does
not exist, a missing model directory or weights, a model that cannot generate, an empty
prompt or one longer than the model's positions. Under OneFlow's launcher every rank
generates and only the main rank prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

from libai.config import try_get_key
from libai.config.cli import UserError

__all__ = ["add_generate_arguments", "generate_from_args"]


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``generate`` command's arguments (DESIGN section 7)."""
    parser.add_argument("config_file", metavar="CFG", help="config with model and tokenization")
    _add_options(parser)
    parser.add_argument(
        "opts",
        nargs=argparse.REMAINDER,
        metavar="KEY=VALUE",
        help="config overrides, e.g. train.dist.tensor_parallel_size=2",
    )


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-path", help="checkpoint (libai) or model (huggingface) directory")
    parser.add_argument(
        "--mode", default="libai", help="where the weights come from: libai, huggingface, random"
    )
    parser.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    parser.add_argument("--prompt-file", help="a file of prompts, one per line")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--do-sample", action="store_true", help="sample instead of greedy")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--num-beams", type=int, default=None)
    parser.add_argument("--repetition-penalty", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (reproducible)")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="prompts generated together (default 8)"
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON line per prompt: prompt, text, new ids"
    )


class _OptionParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit; report as a UserError
        raise UserError(f"generate: {message}")


def _split_remainder(args: argparse.Namespace) -> list[str]:
    """Parse options written after CFG (argparse's REMAINDER keeps them); return overrides."""
    parser = _OptionParser(prog="libai-engine generate", add_help=False)
    _add_options(parser)
    rest = [o for o in (args.opts or []) if o != "--"]
    _, unknown = parser.parse_known_args(rest, namespace=args)
    bad = [o for o in unknown if o.startswith("-")]
    if bad:
        raise UserError(f"generate: unknown option {bad[0]!r}; see libai-engine generate --help")
    return unknown


def _prompts(args: argparse.Namespace) -> list[str]:
    prompts = list(args.prompt)
    if args.prompt_file:
        if not os.path.isfile(args.prompt_file):
            raise UserError(f"--prompt-file {args.prompt_file} does not exist")
        with open(args.prompt_file, encoding="utf-8") as f:
            prompts.extend(line.rstrip("\n") for line in f if line.strip())
    if not prompts:
        raise UserError("no prompt: give --prompt TEXT (repeatable) or --prompt-file FILE")
    for i, prompt in enumerate(prompts):
        if not prompt.strip():
            raise UserError(f"prompt {i} is empty")
    return prompts


def _generate_kwargs(args: argparse.Namespace) -> dict:
    checks = [
        (args.max_new_tokens, lambda v: v >= 1, "--max-new-tokens must be >= 1"),
        (args.temperature, lambda v: v > 0, "--temperature must be > 0"),
        (args.top_k, lambda v: v >= 0, "--top-k must be >= 0"),
        (args.top_p, lambda v: 0 < v <= 1, "--top-p must be in (0, 1]"),
        (args.num_beams, lambda v: v >= 1, "--num-beams must be >= 1"),
        (args.repetition_penalty, lambda v: v > 0, "--repetition-penalty must be > 0"),
        (args.batch_size, lambda v: v >= 1, "--batch-size must be >= 1"),
    ]
    for value, ok, message in checks:
        if value is not None and not ok(value):
            raise UserError(f"{message}, got {value}")
    kwargs = {
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "num_beams": args.num_beams,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed,
    }
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if args.do_sample:
        kwargs["do_sample"] = True
    return kwargs


def _model_class(cfg: Any) -> Any:
    from libai.config.targets import resolve_target

    target = try_get_key(cfg, "model._target_")
    try:
        return resolve_target(target) if isinstance(target, str) else target
    except (LookupError, ImportError) as exc:
        raise UserError(f"model._target_ {target!r} cannot be resolved: {exc}") from exc


def _max_positions(cfg: Any, mode: str, model_path: Optional[str]) -> Optional[int]:
    """The longest input the model's position embeddings cover (``None``: no limit known)."""
    if mode == "huggingface":
        with open(os.path.join(str(model_path), "config.json")) as f:
            hf = json.load(f)
        value = hf.get("n_positions") or hf.get("max_position_embeddings")
        return int(value) if value else None
    model_cfg = try_get_key(cfg, "model.cfg") or {}
    if model_cfg.get("position_embedding_type", "absolute") != "absolute":
        return None
    for key in ("max_seq_length", "max_position_embeddings"):
        if isinstance(model_cfg.get(key), int):
            return int(model_cfg.get(key))
    return None


def check_generate_inputs(cfg: Any, args: argparse.Namespace) -> tuple[list[str], dict]:
    """Every check that needs no model: returns ``(prompts, generate keywords)``."""
    from libai.inference.model_source import ModelSourceError, check_model_source

    for namespace in ("model", "tokenization"):
        if try_get_key(cfg, namespace) is None:
            raise UserError(
                f"{args.config_file} has no {namespace!r}: generate needs model and tokenization"
            )
    try:
        check_model_source(args.mode, args.model_path)
    except ModelSourceError as exc:
        raise UserError(str(exc)) from exc
    cls = _model_class(cfg)
    if not callable(getattr(cls, "generate", None)):
        raise UserError(
            f"model {getattr(cls, '__name__', cls)} cannot generate: it has no generate() "
            "(models that generate subclass libai.inference.generation.GenerationMixin)"
        )
    return _prompts(args), _generate_kwargs(args)


def _check_prompt_lengths(tokenizer: Any, prompts: list[str], limit: Optional[int]) -> None:
    for i, prompt in enumerate(prompts):
        n = len(tokenizer.encode(prompt))
        if n == 0:
            raise UserError(f"prompt {i} ({prompt!r}) encodes to no tokens")
        if limit is not None and n >= limit:
            raise UserError(
                f"prompt {i} has {n} tokens; the model's positions end at {limit} "
                "(leave room for at least one new token)"
            )


def _progress(enabled: bool):
    """A rich progress bar on the terminal (stderr), else a context that yields ``None``."""
    import contextlib

    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import Progress

    return Progress(transient=True, console=Console(stderr=True))


def generate_from_args(args: argparse.Namespace) -> int:
    """The ``generate`` command; returns the exit code."""
    from libai.config.cli._commands import load_config

    opts = _split_remainder(args)
    cfg = load_config(args.config_file, opts)
    prompts, kwargs = check_generate_inputs(cfg, args)

    from libai.inference.text import generate_text
    from libai.inference.text_generation import TextGenerationPipeline
    from libai.utils import distributed as dist
    from libai.utils.distributed import DistConfigError

    class _Checked(TextGenerationPipeline):
        """Checks the prompts against the model's positions before the model is built."""

        def load_pretrain_weight(self, cfg, model_path, mode):
            _check_prompt_lengths(self.tokenizer, prompts, _max_positions(cfg, mode, model_path))
            return super().load_pretrain_weight(cfg, model_path, mode)

    try:
        pipeline = _Checked(cfg, model_path=args.model_path, mode=args.mode)
    except DistConfigError as exc:
        raise UserError(str(exc)) from exc
    main = dist.is_main_process()
    batches = [prompts[i : i + args.batch_size] for i in range(0, len(prompts), args.batch_size)]
    show = main and len(batches) > 1 and sys.stderr.isatty() and not args.json
    with _progress(show) as progress:
        task = progress.add_task("generating", total=len(prompts)) if progress else None
        for batch in batches:
            results = generate_text(pipeline.model, pipeline.tokenizer, batch, **kwargs)
            if main:
                for result in results:
                    if args.json:
                        print(json.dumps(result, ensure_ascii=False), flush=True)
                    else:
                        print(result["generated_text"], flush=True)
                        print("-" * 40, flush=True)
            if progress:
                progress.advance(task, len(batch))
    return 0
