"""RobertaDataset: <s> ... </s> samples with BERT-style masking, no sentence pairs."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
from libai.data.data_utils import make_builder
from libai.data.datasets import RobertaDataset
from libai.tokenizer import RobertaTokenizer

HERE = os.path.dirname(__file__)
_spec = importlib.util.spec_from_file_location(
    "mk", os.path.join(HERE, "fixtures", "make_tokenizer_fixtures.py")
)
MAKER = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MAKER)


def test_roberta_samples(tmp_path):
    tok = RobertaTokenizer(*MAKER.write_bpe_files(str(tmp_path), roberta=True))
    builder = make_builder(str(tmp_path / "r.bin"), "mmap", vocab_size=len(tok))
    lines = [line for line in MAKER.CORPUS.splitlines() if line.strip()]
    for line in lines:
        builder.add_item(np.array(tok.encode(line)))
        builder.end_document()
    builder.finalize(str(tmp_path / "r.idx"))
    ds = RobertaDataset("roberta", tok, None, str(tmp_path / "r"), None, 0.15, 48, seed=5)
    assert len(ds) == len(lines)
    assert list(ds[0].get_fields()) == [
        "input_ids",
        "attention_mask",
        "tokentype_ids",
        "lm_labels",
        "loss_mask",
    ]
    masked = total = 0
    for i in range(len(ds)):
        arrays = ds.build_sample(i)
        n = int(arrays["attention_mask"].sum())
        tokens = arrays["input_ids"].copy()
        tokens[arrays["loss_mask"]] = arrays["lm_labels"][arrays["loss_mask"]]
        assert tokens[0] == tok.cls_token_id == tok.convert_tokens_to_ids("<s>")
        assert tokens[n - 1] == tok.sep_token_id == tok.convert_tokens_to_ids("</s>")
        assert n <= 48 and (arrays["input_ids"][n:] == tok.pad_token_id).all()
        assert (arrays["tokentype_ids"] == 0).all()
        start, end, _ = ds.samples_mapping[i]
        body = [int(t) for s in range(start, end) for t in ds.indexed_dataset[s]]
        inner = tokens[1 : n - 1].tolist()
        assert any(body[k : k + len(inner)] == inner for k in range(len(body) - len(inner) + 1))
        masked += int(arrays["loss_mask"].sum())
        total += n
    assert 0.10 < masked / total < 0.17
