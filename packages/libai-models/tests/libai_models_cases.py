"""Tiny configurations and batches for every NLP model, shared by the model tests
and the graph-mode script they launch."""

from __future__ import annotations

import numpy as np

VOCAB = 96
SEQ = 12
BATCH = 4

TINY = {
    "bert": dict(
        vocab_size=VOCAB,
        hidden_size=32,
        hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    ),
    "roberta": dict(
        vocab_size=VOCAB,
        hidden_size=32,
        hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    ),
    "gpt": dict(
        vocab_size=VOCAB,
        hidden_size=32,
        hidden_layers=2,
        num_attention_heads=4,
        ffn_hidden_size=64,
        max_seq_length=32,
    ),
    "t5": dict(
        vocab_size=VOCAB,
        hidden_size=32,
        hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        embedding_dropout_prob=0.0,
    ),
}

# (case id, default config file, node in it, tiny-size key, extra cfg keys)
CASES = [
    ("BertForPreTraining", "common/models/bert.py", "pretrain_model", "bert", {}),
    ("BertForClassification", "common/models/bert.py", "bert_model", "bert", {"num_labels": 3}),
    ("RobertaForPreTraining", "common/models/roberta.py", "pretrain_model", "roberta", {}),
    ("RobertaForCausalLM", "common/models/roberta.py", "roberta_causal_lm", "roberta", {}),
    ("GPTForPreTraining", "common/models/gpt.py", "pretrain_model", "gpt", {}),
    ("T5ForPreTraining", "common/models/t5.py", "pretrain_model", "t5", {}),
]


def make_batch(case: str, seed: int = 0) -> dict:
    """A fixed batch of numpy arrays with the keyword names the model's forward takes."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, VOCAB, size=(BATCH, SEQ)).astype(np.int64)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    mask[1, SEQ - 3 :] = 0
    if case == "BertForPreTraining":
        return dict(
            input_ids=ids,
            attention_mask=mask,
            tokentype_ids=np.zeros_like(ids),
            ns_labels=np.array([0, 1, 0, 1], dtype=np.int64),
            lm_labels=ids,
            loss_mask=mask,
        )
    if case == "BertForClassification":
        return dict(
            input_ids=ids,
            attention_mask=mask,
            tokentype_ids=np.zeros_like(ids),
            labels=np.array([0, 1, 2, 1], dtype=np.int64),
        )
    if case == "RobertaForPreTraining":
        return dict(input_ids=ids, attention_mask=mask, lm_labels=ids, loss_mask=mask)
    if case == "RobertaForCausalLM":
        return dict(input_ids=ids, attention_mask=mask, labels=ids)
    if case == "GPTForPreTraining":
        return dict(input_ids=ids, labels=np.roll(ids, -1, axis=1))
    if case == "T5ForPreTraining":
        dec = rng.integers(2, VOCAB, size=(BATCH, SEQ - 4)).astype(np.int64)
        dec_mask = np.ones_like(dec)
        return dict(
            encoder_input_ids=ids,
            decoder_input_ids=dec,
            encoder_attn_mask=mask,
            decoder_attn_mask=dec_mask,
            encoder_decoder_attn_mask=mask,
            lm_labels=dec,
            loss_mask=dec_mask,
        )
    raise KeyError(case)


# Output key and shape (in eval mode) the evaluators read.
def expected_eval_shapes(case: str) -> dict:
    if case == "BertForPreTraining":
        return {"prediction_scores": (BATCH, SEQ, VOCAB), "seq_relationship_score": (BATCH, 2)}
    if case == "BertForClassification":
        return {"prediction_scores": (BATCH, 3)}
    if case == "T5ForPreTraining":
        return {"prediction_scores": (BATCH, SEQ - 4, VOCAB)}
    return {"prediction_scores": (BATCH, SEQ, VOCAB)}


def build_model(case: str):
    """Instantiate ``case`` from its default config at the tiny size."""
    from libai.config import LazyCall, get_config, instantiate
    from libai.models import BertForClassification

    for case_id, path, node, size, extra in CASES:
        if case_id == case:
            cfg = get_config(path)
            model_cfg = dict(cfg.cfg)
            model_cfg.update(TINY[size])
            model_cfg.update(extra)
            if case == "BertForClassification":
                # LiBai's bert.py has no classifier node; build it from the same cfg.
                return instantiate(LazyCall(BertForClassification)(cfg=model_cfg))
            lazy = cfg[node]
            lazy.cfg = model_cfg
            return instantiate(lazy)
    raise KeyError(case)


def to_global_batch(batch: dict) -> dict:
    """numpy -> global tensors, split on the batch axis, on the first stage's placement."""
    from libai.utils import distributed as dist
    from libai.utils.oneflow_env import flow

    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
    return {
        k: flow.tensor(v, dtype=flow.long).to_global(placement=placement, sbp=sbp)
        for k, v in batch.items()
    }


def total_loss(loss_dict: dict):
    return sum(v for k, v in loss_dict.items() if "loss" in k)
