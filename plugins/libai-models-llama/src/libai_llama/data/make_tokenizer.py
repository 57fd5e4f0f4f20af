"""Train the small tokenizer of ``llama/sft.py`` on the bundled training records.

    python plugins/libai-models-llama/src/libai_llama/data/make_tokenizer.py

Writes ``tokenizer/tokenizer.json`` and ``tokenizer/tokenizer_config.json`` next to
this file: a byte-level BPE in the layout of a Hugging Face checkpoint (what
``LlamaTokenizer`` reads), with Qwen2's split pattern so that every digit is its own
token (a number never seen in training is still made of known tokens), ``<s>``
added by the post-processor as BOS, ``</s>`` as EOS and ``<pad>``. Only the training
records are read, so held-out answers are not in the vocabulary as whole words either
way. Training is deterministic (same files on every run).
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_SIZE = 1024
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIALS = ["<s>", "</s>", "<pad>"]


def texts() -> list[str]:
    """Every training record as the full Alpaca text (prompt + output)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    from libai_llama.prompts import format_prompt

    with open(os.path.join(HERE, "instructions_train.json"), encoding="utf-8") as f:
        records = json.load(f)
    return [format_prompt(r["instruction"], r["input"]) + r["output"] for r in records]


def main() -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(SPECIALS),
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts(), trainer)
    tok.add_special_tokens(SPECIALS)
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<s> $A",
                pair="<s> $A <s>:1 $B:1",
                special_tokens=[("<s>", tok.token_to_id("<s>"))],
            ),
        ]
    )
    folder = os.path.join(HERE, "tokenizer")
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    config = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": None,
              "clean_up_tokenization_spaces": False, "tokenizer_class": "PreTrainedTokenizerFast"}  # fmt: skip
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"wrote {folder} ({tok.get_vocab_size()} tokens)")


if __name__ == "__main__":
    main()
