"""``TextGenerationPipeline``: prompts in, continued text out (GPT, T5, the Llama family).

::

    pipeline = TextGenerationPipeline("configs/quickstart.py", model_path="output/quickstart/model_final")
    pipeline("MACBETH:", max_new_tokens=32, do_sample=True, top_k=20, seed=0)
    # [{"generated_text": "MACBETH: ..."}]

Keywords are ``generate``'s (:class:`libai.inference.generation.GenerationConfig`). A
string gives a list with one dict, a list of strings one dict per string (a list of
``num_return_sequences`` dicts per string when that is above 1). ``return_token_ids=True``
adds the new tokens' ids.
"""

from __future__ import annotations

from typing import Any, Union

from libai.inference.basic import BasePipeline
from libai.inference.generation.config import GenerationConfig

__all__ = ["TextGenerationPipeline"]

_GENERATE_KEYS = {f for f in GenerationConfig.__dataclass_fields__}


class TextGenerationPipeline(BasePipeline):
    """Continue prompts with the config's model; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.tokenizer is None:
            raise ValueError(
                "TextGenerationPipeline needs a tokenizer: the config has no tokenization.tokenizer"
            )
        if not callable(getattr(self.model, "generate", None)):
            raise TypeError(
                f"{type(self.model).__name__} cannot generate (it is not a GenerationMixin)"
            )

    def _parse_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        post = {}
        if "return_token_ids" in kwargs:
            post["return_token_ids"] = bool(kwargs.pop("return_token_ids"))
        unknown = sorted(set(kwargs) - _GENERATE_KEYS)
        if unknown:
            raise TypeError(
                f"TextGenerationPipeline got unknown keyword(s) {unknown}; it takes generate's "
                f"({', '.join(sorted(_GENERATE_KEYS))}) and return_token_ids"
            )
        return {}, dict(kwargs), post

    def preprocess(self, inputs: Union[str, list], **kwargs: Any) -> dict:
        single = isinstance(inputs, str)
        prompts = [inputs] if single else list(inputs)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise TypeError("TextGenerationPipeline takes a string or a non-empty list of strings")
        return {"prompts": prompts, "single": single}

    def forward(self, model_inputs: dict, **kwargs: Any) -> dict:
        from libai.inference.text import generate_text

        results = generate_text(self.model, self.tokenizer, model_inputs["prompts"], **kwargs)
        return {"results": results, "prompts": model_inputs["prompts"]}

    def postprocess(self, model_outputs: dict, return_token_ids: bool = False) -> list:
        results = model_outputs["results"]
        per_prompt = len(results) // len(model_outputs["prompts"])
        out = []
        for result in results:
            item = {"generated_text": result["generated_text"]}
            if return_token_ids:
                item["token_ids"] = result["token_ids"]
            out.append(item)
        if per_prompt > 1:
            out = [out[i : i + per_prompt] for i in range(0, len(out), per_prompt)]
        return out
