"""Fine-tune a Hugging Face checkpoint with ``llama/sft.py``, then answer with ``libai-engine generate``.

``fixtures/hf_sft`` is a tiny ``LlamaForCausalLM`` saved by transformers itself (with the
plugin's tokenizer; ``fixtures/make_sft_checkpoint.py``). The run starts from it through
``model.cfg.pretrained_model_path`` (sizes from its ``config.json``), learns eight
training records, and ``libai-engine generate --mode libai`` then loads ``model_final``
into the model of those sizes and must answer the eight instructions exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from libai.config.get_config import find_config
from libai_llama.alpaca import read_alpaca_records
from libai_llama.data import TRAIN_PATH
from libai_llama.prompts import format_prompt
from libai_llama.tokenizer import LlamaTokenizer
from test_sft import run_engine

HF = Path(__file__).resolve().parent / "fixtures" / "hf_sft"


def _records() -> list[dict]:
    """Two training records of each of the four tasks."""
    records, per_task = [], {}
    for record in read_alpaca_records(TRAIN_PATH):
        task = record["instruction"].split()[0]
        if per_task.get(task, 0) < 2:
            per_task[task] = per_task.get(task, 0) + 1
            records.append(record)
    return records


def test_fine_tune_from_hugging_face_then_generate_answers(tmp_path) -> None:
    records = _records()
    assert len(records) == 8
    data = tmp_path / "eight.json"
    data.write_text(json.dumps(records, indent=4))
    config = str(find_config("llama/sft.py"))
    from_hf = [
        f"model.cfg.pretrained_model_path={HF}",
        f"tokenization.tokenizer.pretrained_model_path={HF}",
    ]
    out = tmp_path / "run"
    proc = run_engine(
        "run",
        config,
        *from_hf,
        f"train.output_dir={out}",
        f"dataloader.train.dataset.0.path={data}",
        f"train.hooks.0.path={data}",
        "train.train_iter=80",
        "train.train_micro_batch_size=8",
        "train.warmup_ratio=0.1",
    )
    assert proc.returncode == 0, proc.stdout[-5000:]
    losses = [
        json.loads(line)["lm_loss"] for line in (out / "metrics.json").read_text().splitlines()
    ]
    assert losses[-1] < 0.2 < losses[0]

    tok = LlamaTokenizer(pretrained_model_path=HF)
    # The pipeline encodes prompts without special tokens; training put BOS first.
    prompts = [tok.bos_token + format_prompt(r["instruction"], r["input"]) for r in records]
    args = [
        "generate",
        config,
        *from_hf,
        "--mode",
        "libai",
        "--model-path",
        str(out / "model_final"),
    ]
    args += ["--max-new-tokens", "8", "--json"]
    for prompt in prompts:
        args += ["--prompt", prompt]
    proc = run_engine(*args)
    assert proc.returncode == 0, proc.stdout[-5000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(records)
    for record, result in zip(records, results):
        # The answer, then EOS: the model learned to stop.
        assert result["token_ids"][-1] == tok.eos_token_id, (record, result)
        assert tok.decode(result["token_ids"], skip_special_tokens=True) == record["output"]
        assert result["generated_text"].endswith(record["output"])
