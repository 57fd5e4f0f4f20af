"""Write the bundled instruction data set (``instructions_train.json``, ``instructions_heldout.json``).

Run from anywhere; the output is deterministic (seeded), so running it again rewrites
the committed files byte for byte::

    python plugins/libai-models-llama/src/libai_llama/data/make_instructions.py

Four tasks with one right answer each, so exact match of a greedy answer is a fair
score, and each held-out record is a new combination of parts seen in training (a new
sequence of digits or words), so a model that learned the rule answers it and one that
memorised the training set does not. The tasks are meant to be within reach of a 2-layer
model trained on a few hundred examples per task for minutes on a CPU (copying and
looking up tokens, no arithmetic and no reordering; how far it gets is measured in the
plugin's README):

* ``digits``: "Write the digit words as a number." / input ``"seven two nine"`` -> ``"729"``
* ``copy``: "Copy the words." / input ``"red fox blue"`` -> ``"red fox blue"``
* ``last``: "Give the last word." / input ``"red fox blue"`` -> ``"blue"``
* ``repeat``: "Repeat the word lamp three times." (no input) -> ``"lamp lamp lamp"``

Records are Alpaca's published format (a JSON list of ``instruction``/``input``/
``output`` objects, 4-space indented like ``alpaca_data.json``); the last
``HELDOUT_PER_TASK`` records of each task (``REPEAT_HELDOUT`` of the repetition task) are
held out.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240
# Records of each of the digits, copy and last-word tasks: most for training (a tiny model
# needs several hundred examples of a rule to learn it in minutes), HELDOUT_PER_TASK held out.
PER_TASK = 280
HELDOUT_PER_TASK = 30
# Every input has this many words (each one token), so the k-th answer token always sits
# the same distance after the k-th input word: copying is one attention pattern at a
# fixed relative position (plus a per-token map for digits); with inputs of 3 or 4 words
# a 2-layer model was still guessing words after 2000 steps (README's table).
INPUT_LENGTH = 3
# The repetition task has only len(WORDS) * 3 distinct records; REPEAT_HELDOUT of them held out.
REPEAT_HELDOUT = 12

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
WORDS = ["red", "blue", "green", "fox", "cat", "dog", "lamp", "tree", "river", "stone", "bird",
         "apple", "chair", "cloud", "moon", "ship", "book", "door", "fish", "king"]  # fmt: skip


def word_sequences(rng: random.Random, vocabulary: list) -> Iterator[tuple]:
    """``PER_TASK`` distinct sequences of ``INPUT_LENGTH`` different items of ``vocabulary``."""
    seen: set[tuple[str, ...]] = set()
    while len(seen) < PER_TASK:
        words = tuple(rng.sample(vocabulary, INPUT_LENGTH))
        if words not in seen:
            seen.add(words)
            yield words


def digits_task(rng: random.Random) -> list[dict]:
    return [
        {
            "instruction": "Write the digit words as a number.",
            "input": " ".join(ONES[d] for d in digits),
            "output": "".join(str(d) for d in digits),
        }
        for digits in word_sequences(rng, list(range(10)))
    ]


def copy_task(rng: random.Random) -> list[dict]:
    return [
        {"instruction": "Copy the words.", "input": " ".join(words), "output": " ".join(words)}
        for words in word_sequences(rng, WORDS)
    ]


def last_word_task(rng: random.Random) -> list[dict]:
    return [
        {"instruction": "Give the last word.", "input": " ".join(words), "output": words[-1]}
        for words in word_sequences(rng, WORDS)
    ]


def repeat_task(rng: random.Random) -> list[dict]:
    counts = {"two": 2, "three": 3, "four": 4}
    cases = [(w, c) for w in WORDS for c in counts]
    return [
        {
            "instruction": f"Repeat the word {word} {count} times.",
            "input": "",
            "output": " ".join([word] * counts[count]),
        }
        for word, count in rng.sample(cases, len(cases))
    ]


def build() -> tuple[list[dict], list[dict]]:
    """``(train, heldout)``: each task shuffled, its last records held out, tasks interleaved."""
    rng = random.Random(SEED)
    train, heldout = [], []
    for task in (digits_task, copy_task, last_word_task, repeat_task):
        records = task(rng)
        cut = len(records) - (REPEAT_HELDOUT if task is repeat_task else HELDOUT_PER_TASK)
        train += records[:cut]
        heldout += records[cut:]
    rng.shuffle(train)
    rng.shuffle(heldout)
    return train, heldout


def write(path: str, records: list[dict]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=4, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    train, heldout = build()
    write(os.path.join(HERE, "instructions_train.json"), train)
    write(os.path.join(HERE, "instructions_heldout.json"), heldout)
    print(f"{len(train)} training and {len(heldout)} held-out records written to {HERE}")
