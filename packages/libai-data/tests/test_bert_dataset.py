"""BertDataset: 15% masking with the 80/10/10 rule, sentence-order labels, layout of a sample."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from libai.data.data_utils import create_masked_lm_predictions, get_indexed_dataset, make_builder
from libai.data.datasets import BertDataset
from libai.tokenizer import BertTokenizer

HERE = os.path.dirname(__file__)
_spec = importlib.util.spec_from_file_location(
    "mk", os.path.join(HERE, "fixtures", "make_tokenizer_fixtures.py")
)
MAKER = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MAKER)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return BertTokenizer(MAKER.write_bert_vocab(str(tmp_path_factory.mktemp("vocab"))))


def word_ids(tokenizer):
    """Ids of whole-word tokens (no ## pieces, no specials), ascending."""
    vocab = tokenizer.get_vocab()
    specials = set(tokenizer.all_special_tokens)
    return sorted(i for t, i in vocab.items() if not t.startswith("##") and t not in specials)


def write_sentences(prefix, tokenizer, num_docs=12, sentences_per_doc=5, sentence_len=9):
    """Documents whose token ids increase along the document (to check sentence order)."""
    ids = word_ids(tokenizer)
    builder = make_builder(str(prefix) + ".bin", "mmap", vocab_size=len(tokenizer))
    for d in range(num_docs):
        position = (d * 7) % 20
        for _ in range(sentences_per_doc):
            builder.add_item(np.array(ids[position : position + sentence_len]))
            position += sentence_len
        builder.end_document()
    builder.finalize(str(prefix) + ".idx")
    return str(prefix)


@pytest.fixture()
def bert(tmp_path, tokenizer):
    prefix = write_sentences(tmp_path / "bert_text_sentence", tokenizer)
    indexed = get_indexed_dataset(prefix, "mmap", skip_warmup=True)
    return BertDataset(
        name="bert",
        tokenizer=tokenizer,
        indexed_dataset=indexed,
        data_prefix=prefix,
        max_num_samples=40,
        mask_lm_prob=0.15,
        max_seq_length=64,
        short_seq_prob=0.0,
        seed=1234,
        binary_head=True,
    )


def restore(arrays):
    tokens = arrays["input_ids"].copy()
    mask = arrays["loss_mask"]
    tokens[mask] = arrays["lm_labels"][mask]
    return tokens


def test_sample_layout(bert, tokenizer):
    sample = bert[0]
    fields = sample.get_fields()
    assert list(fields) == [
        "input_ids",
        "attention_mask",
        "tokentype_ids",
        "ns_labels",
        "lm_labels",
        "loss_mask",
    ]
    assert fields["input_ids"].tensor.shape == (64,) and fields["ns_labels"].tensor.shape == ()
    assert fields["lm_labels"].placement_idx == -1 and fields["input_ids"].placement_idx == 0
    arrays = bert.build_sample(0)
    tokens = restore(arrays)
    n = int(arrays["attention_mask"].sum())
    assert tokens[0] == tokenizer.cls_token_id and tokens[n - 1] == tokenizer.sep_token_id
    assert (arrays["input_ids"][n:] == tokenizer.pad_token_id).all()
    seps = np.flatnonzero(tokens[:n] == tokenizer.sep_token_id).tolist()
    assert len(seps) == 2
    types = arrays["tokentype_ids"][:n]
    assert (types[: seps[0] + 1] == 0).all() and (types[seps[0] + 1 :] == 1).all()
    assert (arrays["lm_labels"][~arrays["loss_mask"]] == -1).all()


def test_sentence_order_labels(bert, tokenizer):
    labels = []
    for i in range(len(bert)):
        arrays = bert.build_sample(i)
        tokens = restore(arrays)
        n = int(arrays["attention_mask"].sum())
        seps = np.flatnonzero(tokens[:n] == tokenizer.sep_token_id)
        a, b = tokens[1 : seps[0]], tokens[seps[0] + 1 : n - 1]
        swapped = bool(arrays["ns_labels"])
        # ids increase along a document: A before B unless the pair was swapped
        assert (a.max() > b.min()) if swapped else (a.max() < b.min()), i
        labels.append(swapped)
    assert 0.25 < np.mean(labels) < 0.75


def test_masking_counts_are_exact_for_the_seed(bert):
    total_tokens = total_masked = 0
    for i in range(len(bert)):
        arrays = bert.build_sample(i)
        n = int(arrays["attention_mask"].sum())
        target = int(bert.samples_mapping[i][2])
        # LiBai's budget: round(15% of the tokens), capped by 15% of the target length
        expected = int(min(0.15 * target, max(1, round(n * 0.15))))
        assert int(arrays["loss_mask"].sum()) == expected, i
        total_tokens += n
        total_masked += int(arrays["loss_mask"].sum())
    assert 0.12 < total_masked / total_tokens < 0.16
    # same seed, same samples
    again = [bert.build_sample(i)["input_ids"].tolist() for i in range(5)]
    assert again == [bert.build_sample(i)["input_ids"].tolist() for i in range(5)]


def test_80_10_10_rule(tokenizer):
    rng = np.random.RandomState(0)
    ids = word_ids(tokenizer)
    tokens = (
        [tokenizer.cls_token_id]
        + [ids[i % len(ids)] for i in range(4000)]
        + [tokenizer.sep_token_id]
    )
    vocab = tokenizer.get_vocab()
    out, positions, labels, _, _ = create_masked_lm_predictions(
        tokenizer, tokens, list(vocab.values()), {v: k for k, v in vocab.items()}, 0.15,
        tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id, 10_000, rng,
    )  # fmt: skip
    assert len(positions) == round(len(tokens) * 0.15) == 600
    assert [tokens[p] for p in positions] == labels
    assert 0 not in positions and len(tokens) - 1 not in positions
    replaced = np.array([out[p] for p in positions])
    original = np.array(labels)
    masked = int((replaced == tokenizer.mask_token_id).sum())
    kept = int((replaced == original).sum())
    randomised = len(positions) - masked - kept
    # Exact for seed 0 (78% / 9.5% / 12.5%); the shares are 80/10/10 within sampling noise.
    assert (masked, kept, randomised) == (468, 57, 75)
    assert (
        abs(masked / 600 - 0.8) < 0.05
        and abs(kept / 600 - 0.1) < 0.04
        and abs(randomised / 600 - 0.1) < 0.04
    )
    untouched = [i for i in range(len(tokens)) if i not in set(positions)]
    assert all(out[i] == tokens[i] for i in untouched)


def test_without_binary_head_single_segment(tmp_path, tokenizer):
    prefix = write_sentences(tmp_path / "doc", tokenizer, sentences_per_doc=1)
    ds = BertDataset("bert", tokenizer, None, prefix, None, 0.15, 32, binary_head=False)
    arrays = ds.build_sample(0)
    assert int(arrays["ns_labels"]) == 0 and arrays["tokentype_ids"].max() == 0


def test_binary_head_needs_two_sentences(tmp_path, tokenizer):
    prefix = write_sentences(tmp_path / "doc", tokenizer, sentences_per_doc=1)
    with pytest.raises(ValueError, match="--split-sentences"):
        BertDataset("bert", tokenizer, None, prefix, None, 0.15, 32, binary_head=True)


def test_needs_a_tokenizer(tmp_path, tokenizer):
    prefix = write_sentences(tmp_path / "doc", tokenizer)
    with pytest.raises(ValueError, match="needs a tokenizer"):
        BertDataset("bert", None, None, prefix)


def test_chinese_whole_word_masking(tmp_path):
    chars = ["北", "京", "是", "首", "都", "上", "海", "很", "大", "。"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    words = ["北京", "是", "首都", "。", "上海", "很", "大", "。"]
    tok = BertTokenizer(
        str(tmp_path / "vocab.txt"), do_chinese_wwm=True, chinese_word_segmenter=lambda t: words
    )
    ids = tok.encode("北京是首都。上海很大。")
    assert tok.convert_ids_to_tokens(ids) == [
        "北",
        "##京",
        "是",
        "首",
        "##都",
        "。",
        "上",
        "##海",
        "很",
        "大",
        "。",
    ]
    tokens = [tok.cls_token_id, *ids, tok.sep_token_id]
    inv = {v: k for k, v in tok.get_vocab().items()}
    plain = [tok.convert_tokens_to_ids(inv[t].lstrip("#")) for t in tokens]
    words_of = {2: 1, 5: 4, 8: 7}  # position of a ## piece -> position of its word start
    for seed in range(20):
        out, positions, labels, _, _ = create_masked_lm_predictions(
            tok, tokens, list(range(5, 15)), inv, 0.3, tok.cls_token_id, tok.sep_token_id,
            tok.mask_token_id, 10, np.random.RandomState(seed), masking_style="bert-cn-wwm",
        )  # fmt: skip
        assert all(not inv[t].startswith("##") for t in out)  # the model sees plain characters
        assert labels == [plain[p] for p in positions]
        masked = set(positions)
        for piece, start in words_of.items():
            assert (piece in masked) == (start in masked), (seed, positions)
