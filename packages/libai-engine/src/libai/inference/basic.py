"""``BasePipeline``: LiBai's inference pipeline, built from an experiment config.

As in LiBai, a pipeline is constructed from a config file (or a loaded config) and
the parallel layout, builds the tokenizer and the model through the registry (like the
trainer), loads weights as ``mode`` says (see :mod:`libai.inference.model_source`), and
is called with inputs::

    pipeline = TextGenerationPipeline("configs/quickstart.py",
                                      model_path="output/quickstart/model_final")
    pipeline("MACBETH:", max_new_tokens=20)

Subclasses implement ``_parse_parameters`` (split keywords between the three steps),
``preprocess``, ``forward`` and ``postprocess``. Every rank runs every step; the
results are the same on every rank, and ``__call__`` returns them on every rank.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

__all__ = ["BasePipeline"]

logger = logging.getLogger(__name__)


def _load_cfg(config_file: Any) -> Any:
    if hasattr(config_file, "keys"):
        return config_file
    from libai.config import LazyConfig

    return LazyConfig.load(str(config_file))


class BasePipeline:
    """Build a model and tokenizer from ``config_file`` and run inference with them.

    Args (LiBai's):
        config_file: a config path (``.py``/``.yaml``) or a loaded config with ``model``
            (and ``tokenization`` for text, ``train.dist`` for parallel runs).
        data_parallel, tensor_parallel, pipeline_parallel: override ``train.dist``'s sizes.
        pipeline_stage_id, pipeline_num_layers: override ``train.dist``'s stage layout.
        model_path: the weights (``mode="libai"``: a checkpoint directory of
            ``libai-engine run``; ``"huggingface"``: a Hugging Face model directory).
        mode: ``"libai"``, ``"huggingface"`` or ``"random"``.
        device: ``"cpu"`` or ``"cuda"`` (``train.dist.device_type``); default: the config's.
        **kwargs: default keywords of every call (e.g. ``max_new_tokens``).

    Raises:
        libai.inference.model_source.ModelSourceError: bad ``mode`` or ``model_path``
            (checked before anything is built).
    """

    def __init__(
        self,
        config_file: Any,
        data_parallel: Optional[int] = None,
        tensor_parallel: Optional[int] = None,
        pipeline_parallel: Optional[int] = None,
        pipeline_stage_id: Optional[list] = None,
        pipeline_num_layers: Optional[int] = None,
        model_path: Optional[str] = None,
        mode: str = "libai",
        device: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        from libai.inference.model_source import check_model_source
        from libai.utils import distributed as dist

        check_model_source(mode, model_path)
        self.cfg = _load_cfg(config_file)
        self.mode = mode
        self.model_path = model_path
        self.update_cfg(
            data_parallel,
            tensor_parallel,
            pipeline_parallel,
            pipeline_stage_id,
            pipeline_num_layers,
            device,
        )
        dist.setup_dist_util(self.cfg.train.dist)
        self.tokenizer = self.build_tokenizer(self.cfg)
        self.model = self.load_pretrain_weight(self.cfg, model_path, mode)
        self._defaults = self._parse_parameters(**kwargs)

    # ----------------------------------------------------------------- construction
    def update_cfg(
        self,
        data_parallel: Optional[int] = None,
        tensor_parallel: Optional[int] = None,
        pipeline_parallel: Optional[int] = None,
        pipeline_stage_id: Optional[list] = None,
        pipeline_num_layers: Optional[int] = None,
        device: Optional[str] = None,
    ) -> None:
        """Write the constructor's layout arguments into ``cfg.train.dist``."""
        from libai.config import get_config

        if "train" not in self.cfg:
            self.cfg.train = get_config("common/train.py").train
        dist_cfg = self.cfg.train.dist
        for key, value in (
            ("data_parallel_size", data_parallel),
            ("tensor_parallel_size", tensor_parallel),
            ("pipeline_parallel_size", pipeline_parallel),
            ("custom_pipeline_stage_id", pipeline_stage_id),
            ("pipeline_num_layers", pipeline_num_layers),
            ("device_type", device),
        ):
            if value is not None:
                dist_cfg[key] = value
        if (dist_cfg.get("pipeline_parallel_size") or 1) > 1 and not dist_cfg.get(
            "pipeline_num_layers"
        ):
            layers = _num_layers(self.cfg)
            if layers:
                dist_cfg.pipeline_num_layers = layers

    def build_tokenizer(self, cfg: Any) -> Any:
        """The config's tokenizer (``tokenization.tokenizer``), or ``None`` when it has none.

        Built as the trainer builds it, so the model's vocabulary is padded the same way.
        """
        from libai.config import try_get_key
        from libai.engine.default import DefaultTrainer

        if try_get_key(cfg, "tokenization.tokenizer") is None:
            return None
        return DefaultTrainer.build_tokenizer(cfg)

    def load_pretrain_weight(self, cfg: Any, model_path: Optional[str], mode: str) -> Any:
        """Build ``cfg.model`` and load its weights (LiBai's hook for custom loading)."""
        from libai.inference.model_source import load_model

        return load_model(cfg, model_path, mode)

    # ----------------------------------------------------------------- the call
    def _parse_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        """Split keywords into (preprocess, forward, postprocess) keywords."""
        raise NotImplementedError

    def preprocess(self, inputs: Any, **kwargs: Any) -> dict:
        raise NotImplementedError

    def forward(self, model_inputs: dict, **kwargs: Any) -> dict:
        raise NotImplementedError

    def postprocess(self, model_outputs: dict, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Run ``preprocess -> forward -> postprocess`` on ``inputs``."""
        from libai.utils.oneflow_env import flow

        pre, fwd, post = (dict(d) for d in self._defaults)
        extra = self._parse_parameters(**kwargs)
        pre.update(extra[0])
        fwd.update(extra[1])
        post.update(extra[2])
        with flow.no_grad():
            model_inputs = self.preprocess(inputs, **pre)
            model_outputs = self.forward(model_inputs, **fwd)
        return self.postprocess(model_outputs, **post)


def _num_layers(cfg: Any) -> Optional[int]:
    """``hidden_layers`` of a decoder-only or encoder model's ``cfg`` (encoder-decoder
    models count both stacks: give ``train.dist.pipeline_num_layers`` for them)."""
    model_cfg = cfg.model.get("cfg") if hasattr(cfg.model, "get") else None
    value = model_cfg.get("hidden_layers") if hasattr(model_cfg, "get") else None
    return value if isinstance(value, int) else None
