"""libai.tokenizer: ids equal to transformers' on a text sample, LiBai's API, file errors.

The reference ids come from ``fixtures/tokenizer_reference.json``, written by
``fixtures/make_tokenizer_fixtures.py`` with transformers in the reference venv; the
vocabularies are created here by the same (deterministic) functions of that script.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest
from libai.tokenizer import BertTokenizer, GPT2Tokenizer, RobertaTokenizer, T5Tokenizer

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _load_maker():
    spec = importlib.util.spec_from_file_location(
        "make_tokenizer_fixtures", os.path.join(FIXTURES, "make_tokenizer_fixtures.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _load_maker()
with open(os.path.join(FIXTURES, "tokenizer_reference.json"), encoding="utf-8") as _f:
    REFERENCE = json.load(_f)


def _texts(name: str) -> list[str]:
    return MAKER.SAMPLE_TEXTS + MAKER.SPECIAL_TEXTS[name.split("_")[0]]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocabs")
    bert = MAKER.write_bert_vocab(str(root))
    (root / "gpt2").mkdir()
    (root / "roberta").mkdir()
    gpt2 = MAKER.write_bpe_files(str(root / "gpt2"))
    roberta = MAKER.write_bpe_files(str(root / "roberta"), roberta=True)
    t5 = str(root / "spiece.model")
    shutil.copy(os.path.join(FIXTURES, "t5_spiece.model"), t5)
    return {"bert": bert, "gpt2": gpt2, "roberta": roberta, "t5": t5}


def _build(name: str, files):
    if name == "bert":
        return BertTokenizer(files["bert"], do_lower_case=True)
    if name == "bert_cased":
        return BertTokenizer(files["bert"], do_lower_case=False)
    if name == "gpt2":
        return GPT2Tokenizer(*files["gpt2"])
    if name == "roberta":
        return RobertaTokenizer(*files["roberta"])
    return T5Tokenizer(files["t5"])


NAMES = ["bert", "bert_cased", "gpt2", "roberta", "t5"]


@pytest.mark.parametrize("name", NAMES)
def test_ids_equal_transformers(name, files):
    tok = _build(name, files)
    expected = REFERENCE[name]["ids"]
    texts = _texts(name)
    assert len(texts) == len(expected)
    for text, ids in zip(texts, expected):
        assert tok.encode(text) == ids, text
        assert tok.convert_tokens_to_ids(tok.tokenize(text)) == ids
    assert tok.encode(texts) == expected  # the batch path
    assert len(tok) == REFERENCE[name]["len"]


@pytest.mark.parametrize("name", ["gpt2", "roberta"])
def test_bpe_equals_plain_python_gpt2_encoder(name, files):
    # OpenAI's algorithm written out in Python: an independent check of the Rust backend.
    assert REFERENCE[name]["python_bpe_agrees"]
    tok = _build(name, files)
    for text in MAKER.SAMPLE_TEXTS + [MAKER.CORPUS]:
        assert tok.encode(text) == MAKER.python_bpe_ids(*files[name], text)


@pytest.mark.parametrize("name", NAMES)
def test_tokens_and_decode_match_reference(name, files):
    tok = _build(name, files)
    special = set(tok.all_special_ids) | {tok.unk_token_id}
    for text, ids, tokens, decoded in zip(
        _texts(name), REFERENCE[name]["ids"], REFERENCE[name]["tokens"], REFERENCE[name]["decoded"]
    ):
        assert tok.convert_ids_to_tokens(ids) == tokens
        # Around special tokens LiBai's decode puts spaces (as transformers 4 did);
        # elsewhere the text must be the reference's.
        if not special & set(ids):
            assert tok.decode(ids) == decoded, text


def test_bert_special_tokens_and_ids(files):
    tok = BertTokenizer(files["bert"])
    vocab = MAKER.bert_vocab_tokens()
    assert tok.cls_token == "[CLS]" and tok.cls_token_id == vocab.index("[CLS]")
    assert tok.sep_token_id == vocab.index("[SEP]")
    assert tok.pad_token_id == 0 and tok.mask_token_id == vocab.index("[MASK]")
    assert tok.bos_token is None and tok.bos_token_id is None
    assert tok.vocab_size == len(vocab) == len(tok)
    assert tok.convert_ids_to_tokens(tok.cls_token_id) == "[CLS]"
    assert tok.encode("[CLS] the [SEP]") == [
        vocab.index("[CLS]"),
        vocab.index("the"),
        vocab.index("[SEP]"),
    ]


def test_added_special_tokens_get_new_ids(files):
    tok = BertTokenizer(
        files["bert"],
        bos_token="[BOS]",
        eos_token="[EOS]",
        additional_special_tokens=["<extra_id_0>"],
    )
    base = len(MAKER.bert_vocab_tokens())
    assert tok.vocab_size == base and len(tok) == base + 3
    assert [tok.bos_token_id, tok.eos_token_id] == [base, base + 1]
    assert tok.additional_special_tokens_ids == [base + 2]
    assert tok.encode("the <extra_id_0> fox")[1] == base + 2


@pytest.mark.parametrize(
    ("divisible_by", "tp", "expected"),
    [(128, 1, 384), (128, 2, 512), (1, 1, 293), (293, 1, 293), (100, 3, 300)],
)
def test_padded_vocab_size(files, divisible_by, tp, expected):
    tok = BertTokenizer(files["bert"])
    assert len(tok) == 293
    assert tok.padded_vocab_size(divisible_by, tp) == expected


def test_padded_vocab_size_rejects_bad_factor(files):
    tok = BertTokenizer(files["bert"])
    with pytest.raises(ValueError, match="make_vocab_size_divisible_by"):
        tok.padded_vocab_size(0)


def test_gpt2_ignores_libai_config_arguments_and_roundtrips(files):
    # LiBai's gpt config passes do_lower_case/do_chinese_wwm to GPT2Tokenizer.
    tok = GPT2Tokenizer(*files["gpt2"], do_lower_case=True, do_chinese_wwm=True)
    text = "Emoji 🙂 and Café survive byte-level BPE."
    assert tok.decode(tok.encode(text)) == text
    assert tok.eos_token == tok.bos_token == "<|endoftext|>"
    assert tok.eos_token_id == tok.get_vocab()["<|endoftext|>"]


def test_t5_sentinels_are_last_ids(files):
    tok = T5Tokenizer(files["t5"], extra_ids=100)
    assert tok.vocab_size == tok.sp_model.get_piece_size() + 100
    assert tok.convert_tokens_to_ids("<extra_id_0>") == tok.vocab_size - 1
    assert tok.convert_tokens_to_ids("<extra_id_99>") == tok.vocab_size - 100
    assert tok.additional_special_tokens_ids[:2] == [tok.vocab_size - 1, tok.vocab_size - 2]
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)


def test_chinese_whole_word_marks(tmp_path):
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "北",
        "京",
        "##京",
        "是",
        "首",
        "都",
        "##都",
        "。",
    ]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    words = {"北京是首都。": ["北京", "是", "首都", "。"]}
    tok = BertTokenizer(str(path), do_chinese_wwm=True, chinese_word_segmenter=lambda t: words[t])
    assert tok.tokenize("北京是首都。") == ["北", "##京", "是", "首", "##都", "。"]
    assert tok.encode("北京是首都。") == [5, 7, 8, 9, 11, 12]
    plain = BertTokenizer(str(path))
    assert plain.tokenize("北京是首都。") == ["北", "京", "是", "首", "都", "。"]


@pytest.mark.parametrize(
    ("cls", "args", "arg"),
    [
        (BertTokenizer, ("missing/vocab.txt",), "vocab_file"),
        (GPT2Tokenizer, ("missing/vocab.json", "missing/merges.txt"), "vocab_file"),
        (T5Tokenizer, ("missing/spiece.model",), "vocab_file"),
    ],
)
def test_missing_vocab_file_is_a_clear_error(cls, args, arg):
    with pytest.raises(FileNotFoundError) as info:
        cls(*args)
    message = str(info.value)
    assert arg in message and args[0] in message and "Nothing is downloaded" in message


def test_missing_merges_file_names_it(files):
    with pytest.raises(FileNotFoundError, match="merges_file"):
        GPT2Tokenizer(files["gpt2"][0], "nowhere/merges.txt")


def test_pretrained_name_is_explained():
    with pytest.raises(FileNotFoundError, match="pretrained model name"):
        BertTokenizer("bert-base-uncased")


@pytest.mark.parametrize(
    "name", ["BertTokenizer", "GPT2Tokenizer", "RobertaTokenizer", "T5Tokenizer"]
)
def test_registered_in_libai_tokenizers_group(name):
    import libai.tokenizer
    from libai.config.registry import get_registry

    assert get_registry().resolve(f"tokenizers:{name}") is getattr(libai.tokenizer, name)


def test_wwm_without_segmenter_needs_jieba_only_for_chinese(files):
    tok = BertTokenizer(files["bert"], do_chinese_wwm=True)
    assert tok.encode("the quick fox") == BertTokenizer(files["bert"]).encode("the quick fox")
    try:
        import jieba  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="jieba"):
            tok.encode("深度学习")
    else:
        assert tok.tokenize("深度学习")[0] == "深"
