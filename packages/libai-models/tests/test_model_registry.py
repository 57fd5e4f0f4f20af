"""libai-models as an installed plugin: entry points, default configs, cfg errors."""

from __future__ import annotations

import pytest
from libai.config import LazyConfig, get_config, instantiate
from libai.config.registry import get_registry

NLP_NAMES = [
    "BertModel",
    "BertForPreTraining",
    "BertForClassification",
    "RobertaModel",
    "RobertaForPreTraining",
    "RobertaForCausalLM",
    "GPTModel",
    "GPTForPreTraining",
    "T5Model",
    "T5ForPreTraining",
    "bert",
    "roberta",
    "gpt",
    "t5",
]


@pytest.mark.parametrize("name", NLP_NAMES)
def test_every_model_entry_point_resolves_to_its_class(name):
    import libai.models

    target = get_registry().get("libai.models", name).load()
    alias = {"bert": "BertModel", "roberta": "RobertaModel", "gpt": "GPTModel", "t5": "T5Model"}
    assert target is getattr(libai.models, alias.get(name, name))


@pytest.mark.parametrize("path", ["bert", "roberta", "gpt", "t5", "graph"])
def test_default_configs_are_found_through_the_plugin(path):
    cfg = get_config(f"common/models/{path}.py")
    assert ("graph" in cfg) if path == "graph" else ("cfg" in cfg and "pretrain_model" in cfg)


def test_registry_reference_builds_a_model_from_libai_cfg_names(tmp_path):
    cfg = get_config("common/models/gpt.py")
    cfg.gpt_model._target_ = "models:gpt"
    cfg.gpt_model.cfg.update(
        hidden_layers=1,
        vocab_size=16,
        hidden_size=8,
        ffn_hidden_size=16,
        num_attention_heads=2,
        max_seq_length=8,
    )
    LazyConfig.save(cfg, str(tmp_path / "gpt.yaml"))
    model = instantiate(LazyConfig.load(str(tmp_path / "gpt.yaml")).gpt_model)
    assert type(model).__name__ == "GPTModel"
    assert len(model.transformer.layers) == 1


def test_libai_older_num_layers_key_is_accepted():
    from libai.models import GPTModel

    model = GPTModel(
        cfg=dict(
            num_layers=3, vocab_size=16, hidden_size=8, ffn_hidden_size=16, num_attention_heads=2
        )
    )
    assert len(model.transformer.layers) == 3


def test_missing_cfg_key_names_the_nearest_key():
    from libai.models import BertModel
    from libai.models.utils.config_utils import ModelConfigError

    with pytest.raises(ModelConfigError, match=r"hidden_layers \(cfg has 'hidden_layer'\)"):
        BertModel(
            cfg=dict(
                vocab_size=16,
                hidden_size=8,
                hidden_layer=1,
                num_attention_heads=2,
                intermediate_size=16,
                hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0,
                max_position_embeddings=8,
            )
        )
