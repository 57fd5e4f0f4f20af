"""InstructionAccuracyHook's scoring and the step-by-step greedy fallback, on stand-in models."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
from libai.utils.oneflow_env import flow
from libai_llama.alpaca import AlpacaDataset
from libai_llama.data import HELDOUT_PATH, TOKENIZER_DIR
from libai_llama.hooks import InstructionAccuracyHook, greedy_answer
from libai_llama.tokenizer import LlamaTokenizer

VOCAB = 8


class NextIdModel(flow.nn.Module):
    """Logits that always pick (last id + 1) mod VOCAB: a model with no ``generate``."""

    def forward(self, input_ids):
        ids = input_ids.to_local().numpy()
        logits = np.zeros(ids.shape + (VOCAB,), dtype=np.float32)
        for b in range(ids.shape[0]):
            for t in range(ids.shape[1]):
                logits[b, t, (ids[b, t] + 1) % VOCAB] = 1.0
        out = flow.tensor(logits).to_global(placement=input_ids.placement, sbp=input_ids.sbp)
        return {"logits": out}


def test_greedy_answer_stops_before_a_stop_id_and_at_the_limit() -> None:
    model = NextIdModel()
    assert greedy_answer(model, [3], max_new_tokens=8, stop_ids=[6]) == [4, 5]
    assert greedy_answer(model, [1, 2], max_new_tokens=3, stop_ids=[0]) == [3, 4, 5]


class AnswerKeyModel(flow.nn.Module):
    """``generate`` that answers the records right on even rows and says "0" on odd rows.

    It checks the left padding it is given and returns prompt + answer + EOS + padding,
    as libai.inference's ``generate`` does.
    """

    def __init__(self, answers: dict, tokenizer) -> None:
        super().__init__()
        self.answers, self.tok, self.calls = answers, tokenizer, []

    def generate(self, ids, attention_mask, max_new_tokens, eos_token_id, pad_token_id, **kw):
        self.calls.append(ids.shape)
        rows = []
        for row, (line, mask) in enumerate(zip(ids, attention_mask)):
            prompt = tuple(int(t) for t, m in zip(line, mask) if m)
            assert all(t == pad_token_id for t, m in zip(line, mask) if not m)
            answer = self.answers[prompt] if row % 2 == 0 else self.tok.encode("0")
            new = (answer + [eos_token_id[0]] + [pad_token_id] * max_new_tokens)[:max_new_tokens]
            rows.append(list(line) + new)
        return flow.tensor(np.array(rows, dtype=np.int64))


def test_hook_scores_exact_matches_before_and_after(tmp_path) -> None:
    tok = LlamaTokenizer(pretrained_model_path=TOKENIZER_DIR)
    ds = AlpacaDataset(HELDOUT_PATH, tok, max_length=64)
    answers = {tuple(ds.tokens(i)[0]): tok.encode(ds.records[i]["output"]) for i in range(10)}
    model = AnswerKeyModel(answers, tok)
    hook = InstructionAccuracyHook(
        str(HELDOUT_PATH), max_length=64, max_new_tokens=8, max_records=10, batch_size=4
    )
    hook.trainer = SimpleNamespace(
        tokenizer=tok,
        model=model,
        start_iter=0,
        iter=5,
        max_iter=5,
        cfg=SimpleNamespace(train=SimpleNamespace(output_dir=str(tmp_path))),
    )
    hook.before_train()
    hook.after_train()
    assert [shape[0] for shape in model.calls] == [4, 4, 2] * 2
    for result in (hook.before, hook.after):
        assert (result["correct"], result["total"], result["accuracy"]) == (5, 10, 0.5)
        assert [a["correct"] for a in result["answers"]] == [True, False] * 5
    written = json.loads((tmp_path / "instruction_accuracy.json").read_text())
    assert written["after"]["answers"][0]["answer"] == ds.records[0]["output"]
    assert written["after"]["answers"][1]["answer"] == "0"
