"""The preprocessing command: JSON lines -> .bin/.idx that read back as the tokenizer's ids."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from libai.data.data_utils import get_indexed_dataset
from libai.data.tools.preprocess import main
from libai.data.tools.sentence_split import split_sentences
from libai.tokenizer import BertTokenizer, GPT2Tokenizer

HERE = os.path.dirname(__file__)
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
_spec = importlib.util.spec_from_file_location(
    "mk", os.path.join(HERE, "fixtures", "make_tokenizer_fixtures.py")
)
MAKER = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MAKER)

DOCS = [
    "The quick brown fox jumps over the lazy dog. It wasn't the first time!",
    "Machine learning models are trained on large datasets. Training takes hours.",
    "",
    "深度学习模型需要大量的数据。我们使用中文分词。",
    "Numbers like 3.14159 appear in text. So do e-mail addresses. And a third sentence?",
] * 3


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "docs.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i, text in enumerate(DOCS):
            f.write(json.dumps({"text": text, "id": i}, ensure_ascii=False) + "\n")
    return path


def test_gpt2_documents_with_workers_and_eod(tmp_path, corpus):
    vocab, merges = MAKER.write_bpe_files(str(tmp_path))
    out = tmp_path / "out" / "corpus"
    out.parent.mkdir()
    code = main(
        [
            "--input", str(corpus), "--output-prefix", str(out), "--tokenizer-name", "GPT2Tokenizer",
            "--vocab-file", vocab, "--merges-file", merges, "--append-eod", "--workers", "2",
        ]
    )  # fmt: skip
    assert code == 0
    ds = get_indexed_dataset(str(out) + "_text_document", "mmap", skip_warmup=True)
    tok = GPT2Tokenizer(vocab, merges)
    expected = [tok.encode(t) + [tok.eos_token_id] for t in DOCS if t]
    assert len(ds) == len(expected) and ds.doc_idx.tolist() == list(range(len(expected) + 1))
    assert [ds[i].tolist() for i in range(len(ds))] == expected
    assert not list((tmp_path / "out").glob("*.tmp.*"))


def test_bert_sentences_and_progress_bar(tmp_path, corpus, capsys):
    vocab = MAKER.write_bert_vocab(str(tmp_path))
    out = tmp_path / "bert"
    code = main(
        [
            "--input", str(corpus), "--output-prefix", str(out), "--tokenizer-name", "BertTokenizer",
            "--vocab-file", vocab, "--do-lower-case", "--split-sentences", "--dataset-impl", "mmap",
        ]
    )  # fmt: skip
    assert code == 0
    ds = get_indexed_dataset(str(out) + "_text_sentence", "mmap", skip_warmup=True)
    tok = BertTokenizer(vocab)
    docs = [[tok.encode(s) for s in split_sentences(t)] for t in DOCS if t]
    assert ds.doc_idx.tolist()[-1] == sum(len(d) for d in docs)
    assert [len(d) for d in docs][:4] == [2, 2, 2, 3]
    got = [[ds[i].tolist() for i in range(a, b)] for a, b in zip(ds.doc_idx[:-1], ds.doc_idx[1:])]
    assert got == docs
    assert "15 documents" in capsys.readouterr().err


def test_script_at_repo_root_runs(tmp_path, corpus):
    vocab = MAKER.write_bert_vocab(str(tmp_path))
    out = tmp_path / "c"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "preprocess_data.py"), "--input", str(corpus),
         "--output-prefix", str(out), "--tokenizer-name", "BertTokenizer", "--vocab-file", vocab,
         "--json-keys", "text", "--no-progress", "--log-interval", "5", "--split-sentences"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c_text_sentence.bin").exists() and (
        tmp_path / "c_text_sentence.idx"
    ).exists()
    assert "processed 15 documents" in result.stderr


def test_bad_json_line_is_reported_with_line_number(tmp_path, capsys):
    vocab = MAKER.write_bert_vocab(str(tmp_path))
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n{"text": broken\n', encoding="utf-8")
    code = main(["--input", str(path), "--output-prefix", str(tmp_path / "x"), "--tokenizer-name",
                 "BertTokenizer", "--vocab-file", vocab, "--no-progress"])  # fmt: skip
    assert code == 1
    assert f"{path}:2: not a JSON object" in capsys.readouterr().err
    assert not list(tmp_path.glob("x_*"))  # nothing half-written is left behind


def test_missing_key_lists_the_keys(tmp_path, corpus, capsys):
    vocab = MAKER.write_bert_vocab(str(tmp_path))
    code = main(["--input", str(corpus), "--output-prefix", str(tmp_path / "x"), "--tokenizer-name",
                 "BertTokenizer", "--vocab-file", vocab, "--json-keys", "body", "--no-progress"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "no key 'body'" in err and "id, text" in err


def test_missing_vocab_file_is_a_usage_error(tmp_path, corpus, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--input", str(corpus), "--output-prefix", str(tmp_path / "x"), "--tokenizer-name",
              "BertTokenizer", "--vocab-file", str(tmp_path / "nope.txt")])  # fmt: skip
    assert info.value.code == 2
    assert "nope.txt" in capsys.readouterr().err


def test_sentence_splitter():
    text = (
        'Dr. Smith arrived at 5 p.m. today. He said "Hello." Then he left! 北京是首都。上海很大。'
    )
    assert split_sentences(text) == [
        "Dr. Smith arrived at 5 p.m. today.",
        'He said "Hello."',
        "Then he left!",
        "北京是首都。",
        "上海很大。",
    ]
