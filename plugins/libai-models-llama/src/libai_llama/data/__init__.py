"""The instruction data set bundled with the plugin, and the tokenizer trained on it.

Only paths: nothing is read when this module is imported, so configs can name them.
``SOURCE.md`` here says where every file comes from.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "HELDOUT_PATH", "TOKENIZER_DIR", "TRAIN_PATH"]

DATA_DIR = Path(__file__).resolve().parent
TRAIN_PATH = DATA_DIR / "instructions_train.json"
HELDOUT_PATH = DATA_DIR / "instructions_heldout.json"
# A byte-level BPE ``tokenizer.json`` (Qwen2's split pattern: one digit per token) trained
# on the training records by ``make_tokenizer.py``, read by ``LlamaTokenizer``.
TOKENIZER_DIR = DATA_DIR / "tokenizer"
