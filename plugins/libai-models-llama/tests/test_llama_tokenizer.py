"""LlamaTokenizer against the ids transformers gives (fixtures/tokenizer_reference.json).

The three tokenizers in fixtures/tokenizers/ were trained by
fixtures/make_tokenizer_fixtures.py and their reference ids written by transformers'
AutoTokenizer in the same run (``tox -e reference``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from libai_llama.tokenizer import LlamaTokenizer, find_tokenizer_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "tokenizer_reference.json").read_text(encoding="utf-8"))
KINDS = ("llama2", "llama3", "qwen2")


def _samples(kind: str) -> list[dict]:
    return REFERENCE[kind]["samples"]


@pytest.fixture(scope="module", params=KINDS)
def kind_and_tokenizer(request):
    return request.param, LlamaTokenizer(
        pretrained_model_path=FIXTURES / "tokenizers" / request.param
    )


def test_ids_without_special_tokens_match_transformers(kind_and_tokenizer) -> None:
    kind, tok = kind_and_tokenizer
    for sample in _samples(kind):
        assert tok.encode(sample["text"]) == sample["ids"], (kind, sample["text"])


def test_ids_with_special_tokens_match_transformers(kind_and_tokenizer) -> None:
    kind, tok = kind_and_tokenizer
    for sample in _samples(kind):
        assert tok.encode(sample["text"], add_special_tokens=True) == sample["ids_with_special"], (
            kind,
            sample["text"],
        )


def test_decode_matches_transformers(kind_and_tokenizer) -> None:
    kind, tok = kind_and_tokenizer
    for sample in _samples(kind):
        assert tok.decode(sample["ids"]) == sample["decoded"], (kind, sample["text"])


def test_special_ids_and_length_match_transformers(kind_and_tokenizer) -> None:
    kind, tok = kind_and_tokenizer
    ref = REFERENCE[kind]
    assert tok.bos_token_id == ref["bos_token_id"]
    assert tok.eos_token_id == ref["eos_token_id"]
    assert tok.pad_token_id == ref["pad_token_id"]
    assert tok.unk_token_id == ref["unk_token_id"]
    assert len(tok) == ref["len"]


def test_kinds_read_the_expected_file() -> None:
    root = FIXTURES / "tokenizers"
    assert LlamaTokenizer(pretrained_model_path=root / "llama2").is_sentencepiece
    assert not LlamaTokenizer(pretrained_model_path=root / "llama3").is_sentencepiece
    assert find_tokenizer_file(root / "qwen2").name == "tokenizer.json"


def test_a_file_path_reads_its_directory_side_files() -> None:
    # tokenizer.model alone in its directory: BOS/EOS still come from tokenizer_config.json.
    tok = LlamaTokenizer(
        pretrained_model_path=FIXTURES / "tokenizers" / "llama2" / "tokenizer.model"
    )
    assert (tok.bos_token, tok.eos_token, tok.bos_token_id, tok.eos_token_id) == (
        "<s>",
        "</s>",
        1,
        2,
    )


def test_generation_config_eos_list_gives_stop_ids() -> None:
    tok = LlamaTokenizer(pretrained_model_path=FIXTURES / "tokenizers" / "llama3")
    generation = json.loads(
        (FIXTURES / "tokenizers" / "llama3" / "generation_config.json").read_text()
    )
    assert tok.stop_token_ids == generation["eos_token_id"]
    assert tok.stop_token_ids[0] == tok.eos_token_id


def test_explicit_flags_override_the_files() -> None:
    tok = LlamaTokenizer(
        pretrained_model_path=FIXTURES / "tokenizers" / "qwen2",
        add_bos_token=False,
        add_eos_token=True,
    )
    ids = tok.encode("hello world")
    assert tok.encode("hello world", add_special_tokens=True) == ids + [tok.eos_token_id]


def test_special_tokens_from_generation_config_when_the_config_has_none(tmp_path) -> None:
    shutil.copy(FIXTURES / "tokenizers" / "llama3" / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 600, "eos_token_id": [601, 602]})
    )
    tok = LlamaTokenizer(pretrained_model_path=tmp_path)
    assert (tok.bos_token_id, tok.eos_token_id, tok.stop_token_ids) == (600, 601, [601, 602])
    assert tok.bos_token == tok.convert_ids_to_tokens(600)


def test_missing_path_says_what_is_expected(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LlamaTokenizer(pretrained_model_path=tmp_path / "nope")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(
        FileNotFoundError, match=r"neither tokenizer.json .* holds \['config.json'\]"
    ):
        LlamaTokenizer(pretrained_model_path=tmp_path)
    with pytest.raises(FileNotFoundError, match="pretrained_model_path is not set"):
        LlamaTokenizer()


def test_broken_files_are_named(tmp_path) -> None:
    (tmp_path / "tokenizer.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is not a sentencepiece model"):
        LlamaTokenizer(pretrained_model_path=tmp_path)
    (tmp_path / "tokenizer.json").write_text("{")
    with pytest.raises(ValueError, match="is not a tokenizers JSON file"):
        LlamaTokenizer(pretrained_model_path=tmp_path)
    shutil.copy(FIXTURES / "tokenizers" / "qwen2" / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text("[1,")
    with pytest.raises(ValueError, match="tokenizer_config.json is not valid JSON"):
        LlamaTokenizer(pretrained_model_path=tmp_path)


def test_found_through_the_registry() -> None:
    from libai.config import LazyCall, instantiate

    tok = instantiate(
        LazyCall("tokenizers:llama")(pretrained_model_path=str(FIXTURES / "tokenizers" / "qwen2"))
    )
    assert isinstance(tok, LlamaTokenizer)


def test_padded_vocab_size_counts_added_tokens() -> None:
    tok = LlamaTokenizer(pretrained_model_path=FIXTURES / "tokenizers" / "llama3")
    assert tok.padded_vocab_size(128) == -(-len(tok) // 128) * 128
