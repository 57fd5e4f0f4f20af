"""AlpacaDataset: the exact templates, labels on the response only, truncation, collate, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from libai_llama.alpaca import IGNORE_INDEX, AlpacaDataset, read_alpaca_records
from libai_llama.data import HELDOUT_PATH, TOKENIZER_DIR, TRAIN_PATH
from libai_llama.prompts import format_prompt
from libai_llama.tokenizer import LlamaTokenizer

FIXTURES = Path(__file__).resolve().parent / "fixtures"

RECORDS = [
    {"instruction": "Write the number in digits.", "input": "four hundred twelve", "output": "412"},
    {"instruction": "Repeat the word lamp two times.", "input": "", "output": "lamp lamp"},
]


@pytest.fixture(scope="module")
def tokenizer():
    return LlamaTokenizer(pretrained_model_path=TOKENIZER_DIR)


@pytest.fixture()
def alpaca_file(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(RECORDS, indent=4))
    return path


def test_templates_are_alpacas_exactly() -> None:
    assert format_prompt("Add.", "1 2") == (
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nAdd.\n\n### Input:\n1 2\n\n### Response:\n"
    )
    assert format_prompt("Say hi.") == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n"
    )


def test_json_list_and_json_lines_read_the_same(tmp_path, alpaca_file) -> None:
    lines = tmp_path / "alpaca.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n\n")
    assert read_alpaca_records(alpaca_file) == RECORDS == read_alpaca_records(lines)
    no_input = tmp_path / "no_input.jsonl"
    no_input.write_text(json.dumps({"instruction": "Say hi.", "output": "hi"}))
    assert read_alpaca_records(no_input) == [
        {"instruction": "Say hi.", "input": "", "output": "hi"}
    ]


def test_sample_is_prompt_then_response_and_eos(tokenizer, alpaca_file) -> None:
    ds = AlpacaDataset(alpaca_file, tokenizer, max_length=128)
    for i, record in enumerate(RECORDS):
        prompt = [tokenizer.bos_token_id] + tokenizer.encode(
            format_prompt(record["instruction"], record["input"])
        )
        response = tokenizer.encode(record["output"]) + [tokenizer.eos_token_id]
        input_ids, labels = ds.arrays(i)
        n = len(prompt) + len(response)
        assert input_ids.shape == labels.shape == (128,)
        assert input_ids[: n - 1].tolist() == (prompt + response)[:-1]
        # Labels: the next token on the response and EOS, ignored on the prompt and padding.
        assert labels[: len(prompt) - 1].tolist() == [IGNORE_INDEX] * (len(prompt) - 1)
        assert labels[len(prompt) - 1 : n - 1].tolist() == response
        assert (labels[n - 1 :] == IGNORE_INDEX).all()
        assert (input_ids[n - 1 :] == tokenizer.pad_token_id).all()
        assert tokenizer.decode(labels[labels >= 0][:-1]) == record["output"]


def test_item_is_an_instance_with_labels_on_the_last_stage(tokenizer, alpaca_file) -> None:
    item = AlpacaDataset(alpaca_file, tokenizer, max_length=64)[0]
    assert list(item.get_fields()) == ["input_ids", "labels"]
    assert item.input_ids.placement_idx == 0 and item.labels.placement_idx == -1
    assert (
        tuple(item.input_ids.tensor.shape) == (64,)
        and str(item.labels.tensor.dtype) == "oneflow.int64"
    )


def test_truncation_keeps_the_response_and_the_end_of_the_prompt(tokenizer, alpaca_file) -> None:
    full = AlpacaDataset(alpaca_file, tokenizer, max_length=256)
    prompt, response = full.tokens(0)
    short = AlpacaDataset(alpaca_file, tokenizer, max_length=len(response) + 10)
    cut_prompt, cut_response = short.tokens(0)
    assert cut_response == response  # whole response, EOS included
    assert len(cut_prompt) + len(cut_response) == short.max_length + 1
    assert cut_prompt[0] == tokenizer.bos_token_id
    assert cut_prompt[1:] == prompt[-(len(cut_prompt) - 1) :]  # "### Response:\n" kept
    input_ids, labels = short.arrays(0)
    assert labels[labels != IGNORE_INDEX].tolist() == response


def test_a_response_longer_than_half_the_sample_is_cut_at_its_end(tokenizer, tmp_path) -> None:
    path = tmp_path / "long.json"
    path.write_text(
        json.dumps([{"instruction": "Count.", "input": "", "output": " ".join(["lamp"] * 40)}])
    )
    ds = AlpacaDataset(path, tokenizer, max_length=20)
    prompt, response = ds.tokens(0)
    assert (len(prompt), len(response)) == (11, 10)
    assert response == tokenizer.encode(ds.records[0]["output"])[:10]  # the start of the answer


def test_collate_stacks_for_the_default_loader(tokenizer, alpaca_file) -> None:
    from libai.data.build import trivial_batch_collator

    ds = AlpacaDataset(alpaca_file, tokenizer, max_length=96)
    batch = trivial_batch_collator([ds[0], ds[1]])
    assert tuple(batch.input_ids.tensor.shape) == tuple(batch.labels.tensor.shape) == (2, 96)
    dynamic = AlpacaDataset(alpaca_file, tokenizer, max_length=96, pad_to_max_length=False)
    lengths = [len(dynamic.arrays(i)[0]) for i in range(2)]
    batch = dynamic.collate([dynamic[0], dynamic[1]], pad_to_multiple_of=8)
    assert tuple(batch.input_ids.tensor.shape) == (2, -(-max(lengths) // 8) * 8)
    np.testing.assert_array_equal(
        batch.labels.tensor.numpy()[:, : min(lengths)][0], dynamic.arrays(0)[1][: min(lengths)]
    )


def test_works_with_build_nlp_train_loader(tokenizer) -> None:
    from libai.data import build_nlp_train_loader

    ds = AlpacaDataset(TRAIN_PATH, tokenizer, max_length=96)
    loader, _, _ = build_nlp_train_loader(ds, train_batch_size=4, num_workers=0, seed=1)
    batch = next(iter(loader))
    assert tuple(batch.input_ids.tensor.shape) == (4, 96)
    assert ((batch.labels.tensor.numpy() >= 0).sum(axis=1) > 0).all()


@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"instruction": "a", "input": ""}]', r"alpaca.json: record 0 has no 'output' key"),
        (
            '[{"instruction": "a", "output": "b"}, ["x"]]',
            r"alpaca.json: record 1 is a list, not an object",
        ),
        ('[{"instruction": "a", "output": 3}]', r"record 0: 'output' must be a string, got int"),
        ('[{"instruction": "a", "output": "b"},', r"alpaca.json:1:\d+: not valid JSON"),
        (
            '{"instruction": "a", "output": "b"}\n{"output": "b"}',
            r"alpaca.json:2: record 1 has no 'instruction' key",
        ),
        ('{"instruction": "a", "output": "b"}\nnot json', r"alpaca.json:2: not valid JSON"),
    ],
)
def test_malformed_records_are_named(tmp_path, tokenizer, content, message) -> None:
    path = tmp_path / "alpaca.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        AlpacaDataset(path, tokenizer)


def test_argument_errors(tmp_path, tokenizer, alpaca_file) -> None:
    with pytest.raises(FileNotFoundError, match="no file at"):
        AlpacaDataset(tmp_path / "missing.json", tokenizer)
    with pytest.raises(ValueError, match="needs a tokenizer"):
        AlpacaDataset(alpaca_file, None)
    with pytest.raises(ValueError, match="max_length must be an int >= 4"):
        AlpacaDataset(alpaca_file, tokenizer, max_length=2)


def test_bundled_data_is_alpaca_and_held_out_records_are_new() -> None:
    train, heldout = read_alpaca_records(TRAIN_PATH), read_alpaca_records(HELDOUT_PATH)
    assert (len(train), len(heldout)) == (798, 102)
    key = lambda r: (r["instruction"], r["input"])  # noqa: E731
    assert not {key(r) for r in train} & {key(r) for r in heldout}


def test_bundled_data_is_what_its_script_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_instructions", TRAIN_PATH.parent / "make_instructions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train, heldout = module.build()
    assert train == json.loads(TRAIN_PATH.read_text()) and heldout == json.loads(
        HELDOUT_PATH.read_text()
    )
