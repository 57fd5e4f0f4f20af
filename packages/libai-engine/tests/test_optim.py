"""libai.optim: parameter groups, gradient clipping and the optimizer entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

import numpy as np
import pytest
from libai.config import LazyCall
from libai.config.engine_args import engine_supplied_args
from libai.optim import build_optimizer, get_default_optimizer_params, reduce_param_groups
from libai.utils.oneflow_env import flow


class RMSNorm(flow.nn.Module):
    """Stands in for a norm layer from another package, recognised by its class name."""

    def __init__(self, dim):
        super().__init__()
        self.weight = flow.nn.Parameter(flow.ones(dim))

    def forward(self, x):
        return x * self.weight


def _model():
    flow.manual_seed(0)
    model = flow.nn.Sequential(
        flow.nn.Linear(3, 4), flow.nn.LayerNorm(4), RMSNorm(4), flow.nn.Linear(4, 2, bias=False)
    )
    return model


def _groups_by_id(groups):
    return {
        id(p): {k: v for k, v in g.items() if k != "params"} for g in groups for p in g["params"]
    }


def test_weight_decay_groups_for_norm_and_bias():
    model = _model()
    groups = get_default_optimizer_params(
        model, weight_decay=0.1, weight_decay_norm=0.0, weight_decay_bias=0.02
    )
    by_id = _groups_by_id(groups)
    lin0, norm, rms, lin1 = model[0], model[1], model[2], model[3]
    assert by_id[id(lin0.weight)] == {"weight_decay": 0.1}
    assert by_id[id(lin0.bias)] == {"weight_decay": 0.02}
    # LayerNorm.bias is both a norm parameter and a bias: the bias rule comes last, as LiBai.
    assert by_id[id(norm.weight)] == {"weight_decay": 0.0}
    assert by_id[id(norm.bias)] == {"weight_decay": 0.02}
    assert by_id[id(rms.weight)] == {"weight_decay": 0.0}
    assert by_id[id(lin1.weight)] == {"weight_decay": 0.1}
    # Equal hyper-parameters are merged: three groups, every parameter exactly once.
    assert len(groups) == 3
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters())) == 6


def test_overrides_and_frozen_parameters():
    model = _model()
    model[1].weight.requires_grad = False
    groups = get_default_optimizer_params(model, base_lr=0.5, overrides={"bias": {"lr": 0.1}})
    by_id = _groups_by_id(groups)
    assert id(model[1].weight) not in by_id
    assert by_id[id(model[0].bias)] == {"lr": 0.1}
    assert by_id[id(model[0].weight)] == {"lr": 0.5}


def test_clip_grad_goes_into_every_group_and_clips():
    model = flow.nn.Linear(2, 1, bias=False)
    with flow.no_grad():
        model.weight.copy_(flow.tensor([[0.0, 0.0]]))
    optimizer = flow.optim.SGD(
        get_default_optimizer_params(model, clip_grad_max_norm=1.0, clip_grad_norm_type=2.0),
        lr=1.0,
    )
    group = optimizer.param_groups[0]
    assert group["clip_grad_max_norm"] == 1.0 and group["clip_grad_norm_type"] == 2.0
    # grad = x = [3, 4], norm 5 -> clipped to [0.6, 0.8]; SGD with lr 1 moves the weight by it.
    model(flow.tensor([[3.0, 4.0]])).sum().backward()
    optimizer.clip_grad()
    optimizer.step()
    np.testing.assert_allclose(model.weight.numpy(), [[-0.6, -0.8]], rtol=1e-5)


def test_clip_grad_needs_both_values():
    with pytest.raises(ValueError, match="set both clip_grad_max_norm and clip_grad_norm_type"):
        get_default_optimizer_params(flow.nn.Linear(2, 2), clip_grad_max_norm=1.0)


def test_bias_conflict_is_reported():
    with pytest.raises(ValueError, match=r"weight_decay_bias and overrides\['bias'\]"):
        get_default_optimizer_params(
            flow.nn.Linear(2, 2), weight_decay_bias=0.0, overrides={"bias": {"lr": 1.0}}
        )


def test_reduce_param_groups_later_groups_win():
    a, b = flow.nn.Parameter(flow.zeros(1)), flow.nn.Parameter(flow.zeros(1))
    groups = reduce_param_groups(
        [{"params": [a, b], "lr": 1.0}, {"params": [b], "lr": 2.0, "betas": [0.9, 0.99]}]
    )
    assert [(g["lr"], len(g["params"])) for g in groups] == [(1.0, 1), (2.0, 1)]


def test_build_optimizer_from_a_lazy_config():
    model = _model()
    cfg = LazyCall(flow.optim.AdamW)(
        params=LazyCall(get_default_optimizer_params)(weight_decay_norm=0.0, weight_decay_bias=0.0),
        lr=1e-3,
        weight_decay=0.01,
    )
    optimizer = build_optimizer(cfg, model)
    assert isinstance(optimizer, flow.optim.AdamW)
    decays = sorted((g["weight_decay"], len(g.parameters)) for g in optimizer.param_groups)
    assert decays == [(0.0, 4), (0.01, 2)]
    assert engine_supplied_args(get_default_optimizer_params) == {"model"}

    plain = build_optimizer(LazyCall(flow.optim.SGD)(lr=0.1), model)
    assert sum(len(g.parameters) for g in plain.param_groups) == 6


@pytest.mark.parametrize(
    ("group", "name", "target"),
    [
        ("libai.optimizers", "AdamW", flow.optim.AdamW),
        ("libai.optimizers", "Adam", flow.optim.Adam),
        ("libai.optimizers", "SGD", flow.optim.SGD),
        ("libai.optimizers", "LAMB", flow.optim.LAMB),
    ],
)
def test_optimizer_entry_points_load_oneflow_classes(group, name, target):
    (ep,) = [ep for ep in entry_points(group=group) if ep.name == name]
    assert ep.load() is target
