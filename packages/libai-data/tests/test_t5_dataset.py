"""T5Dataset: span corruption with sentinel tokens; the original text is recoverable."""

from __future__ import annotations

import importlib.util
import os
import shutil

import numpy as np
import pytest
from libai.data.data_utils import make_builder
from libai.data.datasets import T5Dataset
from libai.tokenizer import BertTokenizer, T5Tokenizer

HERE = os.path.dirname(__file__)
_spec = importlib.util.spec_from_file_location(
    "mk", os.path.join(HERE, "fixtures", "make_tokenizer_fixtures.py")
)
MAKER = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MAKER)


def write_corpus(prefix, tokenizer):
    builder = make_builder(str(prefix) + ".bin", "mmap", vocab_size=len(tokenizer))
    lines = [line for line in MAKER.CORPUS.splitlines() if line.strip()]
    for d in range(8):
        for line in lines[d : d + 4]:
            builder.add_item(np.array(tokenizer.encode(line)))
        builder.end_document()
    builder.finalize(str(prefix) + ".idx")
    return str(prefix)


@pytest.fixture(scope="module")
def bert_tokenizer(tmp_path_factory):
    # LiBai's T5 config: a BERT vocabulary with [BOS]/[EOS] and 100 sentinels added.
    vocab = MAKER.write_bert_vocab(str(tmp_path_factory.mktemp("vocab")))
    return BertTokenizer(
        vocab,
        bos_token="[BOS]",
        eos_token="[EOS]",
        additional_special_tokens=[f"<extra_id_{i}>" for i in range(100)],
    )


@pytest.fixture(scope="module")
def t5_tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / "spiece.model"
    shutil.copy(os.path.join(HERE, "fixtures", "t5_spiece.model"), path)
    return T5Tokenizer(str(path))


def uncorrupt(arrays, sentinels, eos_id):
    """Put the decoder's spans back into the encoder input in place of their sentinels."""
    labels = arrays["lm_labels"][arrays["loss_mask"]].tolist()
    assert labels[-1] == eos_id
    spans, current = {}, None
    for token in labels[:-1]:
        if token in sentinels:
            current = token
            spans[current] = []
        else:
            spans[current].append(token)
    encoder = arrays["encoder_input_ids"][arrays["encoder_attn_mask"].diagonal()].tolist()
    out = []
    for token in encoder:
        out.extend(spans.pop(token) if token in sentinels else [token])
    assert not spans
    return out, [t for t in labels if t in sentinels]


@pytest.mark.parametrize("which", ["bert", "t5"])
def test_span_corruption_roundtrip(tmp_path, which, bert_tokenizer, t5_tokenizer):
    tok = bert_tokenizer if which == "bert" else t5_tokenizer
    prefix = write_corpus(tmp_path / f"{which}_text_sentence", tok)
    ds = T5Dataset("t5", tok, None, prefix, None, 0.15, 64, 32, 0.0, 1234)
    sentinels = tok.additional_special_tokens_ids
    assert sentinels[0] == tok.convert_tokens_to_ids("<extra_id_0>")
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.pad_token_id
    masked_share = []
    for i in range(len(ds)):
        arrays = ds.build_sample(i)
        start, end, target = ds.samples_mapping[i]
        original = [int(t) for s in range(start, end) for t in ds.indexed_dataset[s]][:target]
        restored, used = uncorrupt(arrays, set(sentinels), tok.eos_token_id)
        assert restored == original, i
        assert used == sentinels[: len(used)] and len(used) >= 1  # <extra_id_0>, <extra_id_1>, ...
        n_dec = int(arrays["loss_mask"].sum())
        dec = arrays["decoder_input_ids"]
        assert dec[0] == bos and dec[1:n_dec].tolist() == arrays["lm_labels"][: n_dec - 1].tolist()
        assert (arrays["lm_labels"][n_dec:] == -1).all()
        masked_share.append((n_dec - 1 - len(used)) / len(original))
    assert 0.10 < np.mean(masked_share) < 0.20


def test_masks(tmp_path, bert_tokenizer):
    prefix = write_corpus(tmp_path / "c", bert_tokenizer)
    ds = T5Dataset("t5", bert_tokenizer, None, prefix, None, 0.15, 64, 32, 0.0, 1)
    sample = ds[0]
    fields = sample.get_fields()
    assert list(fields) == [
        "encoder_input_ids", "decoder_input_ids", "encoder_attn_mask", "decoder_attn_mask",
        "encoder_decoder_attn_mask", "lm_labels", "loss_mask",
    ]  # fmt: skip
    arrays = ds.build_sample(0)
    n_enc = int(arrays["encoder_attn_mask"].diagonal().sum())
    n_dec = int(arrays["loss_mask"].sum())
    assert arrays["encoder_attn_mask"].shape == (64, 64)
    assert arrays["encoder_decoder_attn_mask"].shape == (32, 64)
    assert arrays["encoder_decoder_attn_mask"].sum() == n_enc * n_dec
    dec = arrays["decoder_attn_mask"]
    assert dec[:n_dec, :n_dec].tolist() == np.tril(np.ones((n_dec, n_dec), bool)).tolist()
    assert not dec[n_dec:].any() and fields["lm_labels"].placement_idx == -1


def test_tokenizer_without_sentinels_is_refused(tmp_path):
    vocab = MAKER.write_bert_vocab(str(tmp_path))
    tok = BertTokenizer(vocab, eos_token="[SEP]")
    with pytest.raises(ValueError, match="sentinels"):
        T5Dataset("t5", tok, None, str(tmp_path / "nope"))
