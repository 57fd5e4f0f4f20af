"""Write the bundled instruction data set (``instructions_train.json``, ``instructions_heldout.json``).

Run from anywhere; the output is deterministic (seeded), so running it again rewrites
the committed files byte for byte::

    python plugins/libai-models-llama/src/libai_llama/data/make_instructions.py

Four tasks with one right answer each, so exact match of a greedy answer is a fair
score, and each held-out record is a new combination of parts seen in training (a
number never seen as a whole, a new word order), so a model that learned the rule
answers it and one that memorised the training set does not:

* ``digits``: "Write the number in digits." / input ``"three hundred forty-two"`` -> ``"342"``
* ``metres``: "Convert the length to metres." / input ``"7 km"`` -> ``"7000 m"``, ``"400 cm"`` -> ``"4 m"``
* ``reverse``: "Reverse the order of the words." / input ``"red fox blue"`` -> ``"blue fox red"``
* ``repeat``: "Repeat the word lamp three times." (no input) -> ``"lamp lamp lamp"``

Records are Alpaca's published format (a JSON list of ``instruction``/``input``/
``output`` objects, 4-space indented like ``alpaca_data.json``); 20% of each task is
held out.
"""

from __future__ import annotations

import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240
PER_TASK = 150
HELDOUT_FRACTION = 0.2

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]  # fmt: skip
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORDS = ["red", "blue", "green", "fox", "cat", "dog", "lamp", "tree", "river", "stone", "bird",
         "apple", "chair", "cloud", "moon", "ship", "book", "door", "fish", "king"]  # fmt: skip


def number_words(n: int) -> str:
    """English words of ``0 <= n <= 999`` ("three hundred forty-two")."""
    if not 0 <= n <= 999:
        raise ValueError(f"number_words: {n} is outside 0..999")
    parts = []
    if n >= 100:
        parts.append(f"{ONES[n // 100]} hundred")
        n %= 100
        if n == 0:
            return parts[0]
    if n >= 20:
        parts.append(TENS[n // 10] + (f"-{ONES[n % 10]}" if n % 10 else ""))
    elif n >= 10 or not parts:
        parts.append(TEENS[n - 10] if n >= 10 else ONES[n])
    else:
        parts.append(ONES[n])
    return " ".join(parts)


def digits_task(rng: random.Random) -> list[dict]:
    numbers = rng.sample(range(1, 1000), PER_TASK)
    return [
        {"instruction": "Write the number in digits.", "input": number_words(n), "output": str(n)}
        for n in numbers
    ]


def metres_task(rng: random.Random) -> list[dict]:
    cases = [(f"{n} km", f"{n * 1000} m") for n in range(1, 100)]
    cases += [(f"{n * 100} cm", f"{n} m") for n in range(1, 100)]
    return [
        {"instruction": "Convert the length to metres.", "input": given, "output": answer}
        for given, answer in rng.sample(cases, PER_TASK)
    ]


def reverse_task(rng: random.Random) -> list[dict]:
    seen: set[tuple[str, ...]] = set()
    records = []
    while len(records) < PER_TASK:
        words = tuple(rng.sample(WORDS, rng.choice([3, 4])))
        if words in seen:
            continue
        seen.add(words)
        records.append(
            {
                "instruction": "Reverse the order of the words.",
                "input": " ".join(words),
                "output": " ".join(reversed(words)),
            }
        )
    return records


def repeat_task(rng: random.Random) -> list[dict]:
    counts = {"two": 2, "three": 3, "four": 4}
    cases = [(w, c) for w in WORDS for c in counts]
    return [
        {
            "instruction": f"Repeat the word {word} {count} times.",
            "input": "",
            "output": " ".join([word] * counts[count]),
        }
        for word, count in rng.sample(cases, min(PER_TASK, len(cases)))
    ]


def build() -> tuple[list[dict], list[dict]]:
    """``(train, heldout)``: each task shuffled, its last 20% held out, tasks interleaved."""
    rng = random.Random(SEED)
    train, heldout = [], []
    for task in (digits_task, metres_task, reverse_task, repeat_task):
        records = task(rng)
        cut = len(records) - int(round(len(records) * HELDOUT_FRACTION))
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
