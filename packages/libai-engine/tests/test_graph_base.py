"""``GraphBase`` refuses gradient accumulation for a model whose class says an
accumulating nn.Graph trains it wrongly (``graph_gradient_accumulation_unsupported``)."""

import pytest
from libai.engine.graph_base import GraphBase
from libai.utils.oneflow_env import flow


class _Plain(flow.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = flow.nn.Linear(2, 1)

    def forward(self, x):
        return {"loss": self.linear(x).sum()}


class _Refusing(_Plain):
    graph_gradient_accumulation_unsupported = "the reason, as the model states it"


def _graph(model, steps: int) -> GraphBase:
    optimizer = flow.optim.SGD(model.parameters(), lr=0.1)
    return GraphBase(model, optimizer, None, is_train=True, grad_acc_steps=steps)


def test_accumulation_refused_with_the_settings_that_work():
    with pytest.raises(ValueError) as info:
        _graph(_Refusing(), 2)
    message = str(info.value)
    assert message.startswith("train.num_accumulation_steps=2 with graph.enabled=True: _Refusing")
    assert "(the reason, as the model states it)" in message
    assert "graph.enabled=False" in message
    assert "train.num_accumulation_steps=1" in message


def test_no_accumulation_or_no_declaration_builds():
    assert _graph(_Refusing(), 1).is_train
    assert _graph(_Plain(), 2).is_train
    # An evaluation graph never accumulates gradients.
    assert not GraphBase(_Refusing(), is_train=False, grad_acc_steps=2).is_train
