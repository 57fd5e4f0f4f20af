"""Tokenizer throughput: libai.tokenizer against transformers on 10 MB of generated text.

    # both sides (ours in this Python, transformers in the reference venv), table to stdout:
    .tox/full/bin/python benchmarks/tokenizer_bench.py --ref-python .tox/reference/bin/python

    # one side only (prints JSON):
    python benchmarks/tokenizer_bench.py --side ours
    python benchmarks/tokenizer_bench.py --side transformers     # needs transformers

The text (seeded, 10 MB by default) and vocabularies (WordPiece/BPE trained with the
``tokenizers`` trainers, a unigram model with sentencepiece; 8000 entries each) are
written once to ``--work-dir`` and shared by both sides, so both encode the same
lines with the same files. Each side encodes every line with ``encode`` (no special
tokens), as the preprocessing command does per document, and reports tokens per
second and a checksum of all ids (equal checksums: equal output).

transformers 5 removed the pure-Python GPT-2/RoBERTa/T5 tokenizers; its only
Python ("slow") tokenizer left is ``BertTokenizerLegacy``, measured as
``transformers-slow``. ``transformers`` rows are its default (Rust-backed) classes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

WORDS = (
    "the of and to in a is that for it as was with be by on not he i this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "model data training tokenizer sentence document graph tensor parallel pipeline oneflow libai "
    "learning network layer attention embedding vocabulary language pretraining gradient optimizer "
    "café naïve résumé über coördinate 北京 上海 数据 模型 学习 中文 分词 🙂 3.14 2024 1,000 e-mail"
).split()


def _lexicon(rng: random.Random, size: int = 20000) -> list[str]:
    """Common words first, then pronounceable made-up words (so sub-words matter)."""
    onsets = [
        "",
        "b",
        "c",
        "d",
        "f",
        "g",
        "h",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "w",
        "st",
        "tr",
        "pl",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
    codas = ["", "", "n", "r", "s", "t", "l", "ng", "st"]
    words = list(WORDS)
    seen = set(words)
    while len(words) < size:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.randint(1, 4))
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def make_text(path: str, megabytes: float, seed: int = 0) -> None:
    """Seeded pseudo-English lines (Zipf-distributed words), about ``megabytes`` MB."""
    rng = random.Random(seed)
    lexicon = _lexicon(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(lexicon))]
    target = int(megabytes * 1_000_000)
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            sentences = []
            for _ in range(rng.randint(1, 6)):
                words = rng.choices(lexicon, weights, k=rng.randint(4, 30))
                words[0] = words[0].capitalize()
                sentences.append(" ".join(words) + rng.choice([".", ".", ".", "!", "?", ";"]))
            line = " ".join(sentences) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))


def make_vocabularies(work: str, text: str) -> None:
    """Train the four vocabularies on (the first 2 MB of) the text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    with open(text, encoding="utf-8") as f:
        sample = f.read(2_000_000).splitlines()
    bert = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    bert.normalizer = normalizers.BertNormalizer(lowercase=True)
    bert.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    bert.train_from_iterator(
        sample,
        trainers.WordPieceTrainer(
            vocab_size=8000,
            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
            show_progress=False,
        ),
    )
    vocab = sorted(bert.get_vocab().items(), key=lambda kv: kv[1])
    with open(os.path.join(work, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(token for token, _ in vocab) + "\n")
    for name, specials in (
        ("gpt2", ["<|endoftext|>"]),
        ("roberta", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]),
    ):
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        bpe.train_from_iterator(
            sample,
            trainers.BpeTrainer(
                vocab_size=8000,
                special_tokens=specials,
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            ),
        )
        os.makedirs(os.path.join(work, name), exist_ok=True)
        bpe.model.save(os.path.join(work, name))
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sample[:20000]),
        model_prefix=os.path.join(work, "spiece"),
        vocab_size=8000,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
    )


def prepare(work: str, megabytes: float) -> str:
    os.makedirs(work, exist_ok=True)
    text = os.path.join(work, f"text_{megabytes:g}MB.txt")
    if not os.path.exists(text):
        make_text(text, megabytes)
    if not os.path.exists(os.path.join(work, "spiece.model")):
        make_vocabularies(work, text)
    return text


def build(side: str, name: str, work: str):
    gpt2 = (os.path.join(work, "gpt2", "vocab.json"), os.path.join(work, "gpt2", "merges.txt"))
    roberta = (
        os.path.join(work, "roberta", "vocab.json"),
        os.path.join(work, "roberta", "merges.txt"),
    )
    if side == "ours":
        from libai.tokenizer import BertTokenizer, GPT2Tokenizer, RobertaTokenizer, T5Tokenizer

        return {
            "bert": lambda: BertTokenizer(os.path.join(work, "vocab.txt")),
            "gpt2": lambda: GPT2Tokenizer(*gpt2),
            "roberta": lambda: RobertaTokenizer(*roberta),
            "t5": lambda: T5Tokenizer(os.path.join(work, "spiece.model")),
        }[name]()
    import shutil
    import tempfile

    import transformers

    transformers.logging.set_verbosity_error()
    if name == "bert" and side == "transformers-slow":
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

        return BertTokenizerLegacy(os.path.join(work, "vocab.txt"))
    directory = tempfile.mkdtemp()
    if name == "bert":
        shutil.copy(os.path.join(work, "vocab.txt"), directory)
        return transformers.BertTokenizer.from_pretrained(directory)
    if name in ("gpt2", "roberta"):
        for path in gpt2 if name == "gpt2" else roberta:
            shutil.copy(path, directory)
        cls = transformers.GPT2Tokenizer if name == "gpt2" else transformers.RobertaTokenizer
        return cls.from_pretrained(directory)
    shutil.copy(os.path.join(work, "spiece.model"), directory)
    return transformers.T5Tokenizer.from_pretrained(directory)


def run_side(side: str, work: str, megabytes: float, names: list[str]) -> dict:
    text = prepare(work, megabytes)
    with open(text, encoding="utf-8") as f:
        lines = f.read().splitlines()
    nbytes = os.path.getsize(text)
    results = {}
    for name in names:
        if side == "transformers-slow" and name != "bert":
            continue
        tok = build(side, name, work)
        if side == "ours":
            encode = tok.encode
        else:

            def encode(line, tok=tok):
                return tok.encode(line, add_special_tokens=False)

        start = time.perf_counter()
        count = checksum = 0
        for line in lines:
            ids = encode(line)
            count += len(ids)
            checksum = (checksum * 31 + sum(ids) + len(ids)) % (1 << 61)
        elapsed = time.perf_counter() - start
        row = {
            "tokens": count,
            "seconds": round(elapsed, 3),
            "tokens_per_s": round(count / elapsed),
            "MB_per_s": round(nbytes / elapsed / 1e6, 3),
            "checksum": checksum,
        }
        if side == "ours" and hasattr(tok, "encode_batch"):
            start = time.perf_counter()
            batch = tok.encode_batch(lines)
            elapsed = time.perf_counter() - start
            row["batch_tokens_per_s"] = round(sum(len(b) for b in batch) / elapsed)
        results[name] = row
    return {"side": side, "python": sys.version.split()[0], "bytes": nbytes, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=["ours", "transformers", "transformers-slow"])
    parser.add_argument("--ref-python", help="Python with transformers for the other side")
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--work-dir", default=os.path.join("/tmp", "libai_tokenizer_bench"))
    parser.add_argument("--names", nargs="+", default=["bert", "gpt2", "roberta", "t5"])
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(run_side(args.side, args.work_dir, args.megabytes, args.names)))
        return 0
    prepare(args.work_dir, args.megabytes)
    sides = [run_side("ours", args.work_dir, args.megabytes, args.names)]
    python = args.ref_python or sys.executable
    for side in ("transformers", "transformers-slow"):
        out = subprocess.run(
            [python, __file__, "--side", side, "--work-dir", args.work_dir, "--megabytes", str(args.megabytes),
             "--names", *args.names],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        sides.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ours = sides[0]["results"]
    print(f"text: {sides[0]['bytes'] / 1e6:.1f} MB, one encode() call per line\n")
    print("| tokenizer | implementation | tokens/s | MB/s | same ids as ours |")
    print("| --- | --- | ---: | ---: | --- |")
    for name in args.names:
        row = ours[name]
        print(
            f"| {name} | libai.tokenizer (encode) | {row['tokens_per_s']:,} | {row['MB_per_s']} | - |"
        )
        if "batch_tokens_per_s" in row:
            print(
                f"| {name} | libai.tokenizer (encode_batch) | {row['batch_tokens_per_s']:,} | | - |"
            )
        for side in sides[1:]:
            other = side["results"].get(name)
            if other:
                same = "yes" if other["checksum"] == row["checksum"] else "no"
                label = f"transformers {side['side'].replace('transformers', '').strip('-') or 'default'}"
                print(
                    f"| {name} | {label} | {other['tokens_per_s']:,} | {other['MB_per_s']} | {same} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
