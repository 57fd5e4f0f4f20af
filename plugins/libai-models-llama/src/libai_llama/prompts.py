"""Stanford Alpaca's prompt templates (no OneFlow here: scripts and configs import it freely)."""

from __future__ import annotations

__all__ = ["PROMPT_NO_INPUT", "PROMPT_WITH_INPUT", "format_prompt"]

# Stanford Alpaca's train.py (PROMPT_DICT), character for character.
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)


def format_prompt(instruction: str, input: str = "") -> str:
    """The Alpaca prompt of a record: the with-input template when ``input`` is not empty."""
    if input:
        return PROMPT_WITH_INPUT.format(instruction=instruction, input=input)
    return PROMPT_NO_INPUT.format(instruction=instruction)
