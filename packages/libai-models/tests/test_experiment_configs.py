"""The repository's NLP experiment configs resolve (as ``libai-engine check``) and their
model, shrunk to a tiny size, trains a step on batches shaped like libai.data's
(boolean masks included)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from libai.config import LazyConfig, instantiate
from libai.config.check import check_config
from libai.utils.oneflow_env import flow
from libai_models_cases import TINY, make_batch, to_global_batch, total_loss

REPO = Path(__file__).resolve().parents[3]
CONFIGS = [
    ("gpt2_pretrain", "gpt", "GPTForPreTraining"),
    ("bert_large_pretrain", "bert", "BertForPreTraining"),
    ("roberta_pretrain", "roberta", "RobertaForPreTraining"),
    ("t5_large_pretrain", "t5", "T5ForPreTraining"),
]
MASK_KEYS = ("attention_mask", "loss_mask", "encoder_attn_mask", "decoder_attn_mask")


@pytest.mark.parametrize("name,size,case", CONFIGS)
def test_experiment_config_checks_and_its_model_trains(name, size, case):
    cfg = LazyConfig.load(str(REPO / "configs" / f"{name}.py"))
    assert check_config(cfg) == []
    assert type(cfg.model.cfg.bias_gelu_fusion) is bool  # LiBai's fusion flags are kept
    cfg.model.cfg.update(TINY[size])
    model = instantiate(cfg.model)
    model.train()
    batch = to_global_batch(make_batch(case))
    for key in MASK_KEYS:
        if key in batch:
            batch[key] = batch[key].to(flow.bool)
    loss = total_loss(model(**batch))
    loss.backward()
    assert math.isfinite(float(loss.to_local().numpy()))
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(np.isfinite(g.to_local().numpy()).all() for g in grads)
