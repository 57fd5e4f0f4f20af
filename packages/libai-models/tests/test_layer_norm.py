"""LayerNorm and RMSLayerNorm: the broadcast-free CPU formulations.

The layers widen their ``[N, 1]`` statistics with a matmul instead of broadcasting them
(OneFlow 0.9.0's CPU broadcast along the last axis is ~150x slower than an equal-shape
op). These tests hold them to the formulation they replaced (plain broadcasting, kept
here as the reference) and to numpy in float64, forward and backward, eager and graph.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from libai.layers import LayerNorm, RMSLayerNorm
from libai.layers.layer_norm import widen_rows
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

RNG = np.random.default_rng(13)


def g(array: np.ndarray, requires_grad: bool = False):
    t = flow.tensor(array, dtype=flow.float32).to_global(
        placement=dist.get_layer_placement(0), sbp=dist.get_hidden_sbp()
    )
    return t.requires_grad_() if requires_grad else t


def n(tensor) -> np.ndarray:
    return tensor.to_local().numpy()


def broadcast_layer_norm(x, weight, bias, eps: float, ndims: int):
    """The formulation used before: statistics of shape [..., 1] broadcast onto x."""
    dims = tuple(range(-ndims, 0))
    centred = x - x.mean(dim=dims, keepdim=True)
    variance = (centred * centred).mean(dim=dims, keepdim=True)
    return centred * flow.rsqrt(variance + eps) * weight + bias


def broadcast_rms_norm(x, weight, eps: float):
    variance = x.to(flow.float32).pow(2).mean(dim=-1, keepdim=True)
    return weight * (x * flow.rsqrt(variance + eps)).to(x.dtype)


def _with_grads(layer, fn, x_np, grad_np):
    """Output and gradients (input, then the layer's parameters) of fn(x)."""
    layer.zero_grad()
    x = g(x_np, requires_grad=True)
    out = fn(x)
    out.backward(g(grad_np))
    grads = [n(x.grad)] + [n(p.grad) for p in layer.parameters()]
    return n(out), grads


@pytest.mark.parametrize("shape, normalized", [((4, 16, 64), 64), ((3, 5, 4, 8), (4, 8))])
def test_layer_norm_equals_the_broadcast_formulation_and_numpy(shape, normalized):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    grad = RNG.standard_normal(shape).astype(np.float32)
    layer = LayerNorm(normalized, eps=1e-5)
    with flow.no_grad():
        layer.weight.copy_(g(RNG.standard_normal(layer.normalized_shape).astype(np.float32)))
        layer.bias.copy_(g(RNG.standard_normal(layer.normalized_shape).astype(np.float32)))
    ndims = len(layer.normalized_shape)

    out, grads = _with_grads(layer, layer, x, grad)
    ref_out, ref_grads = _with_grads(
        layer,
        lambda t: broadcast_layer_norm(t, layer.weight, layer.bias, 1e-5, ndims),
        x,
        grad,
    )
    # Forward: bit-identical (widening multiplies by 1.0). Backward: the row sums of the
    # widening matmul may round differently from the broadcast's reduction.
    assert np.abs(out - ref_out).max() == 0.0
    for got, want in zip(grads, ref_grads):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)

    axes = tuple(range(-ndims, 0))
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axes, keepdims=True), x64.var(axes, keepdims=True)
    w, b = n(layer.weight).astype(np.float64), n(layer.bias).astype(np.float64)
    np.testing.assert_allclose(out, (x64 - mean) / np.sqrt(var + 1e-5) * w + b, atol=2e-5)


def test_layer_norm_without_affine_parameters():
    x = RNG.standard_normal((2, 7, 12)).astype(np.float32)
    layer = LayerNorm(12, elementwise_affine=False)
    assert layer.weight is None and layer.bias is None
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(n(layer(g(x))), want, atol=1e-5)


def test_rms_norm_equals_the_broadcast_formulation_and_numpy():
    shape = (4, 16, 64)
    x = (RNG.standard_normal(shape) * 2).astype(np.float32)
    grad = RNG.standard_normal(shape).astype(np.float32)
    layer = RMSLayerNorm(64, eps=1e-6)
    with flow.no_grad():
        layer.weight.copy_(g(RNG.standard_normal(64).astype(np.float32)))

    out, grads = _with_grads(layer, layer, x, grad)
    ref_out, ref_grads = _with_grads(
        layer, lambda t: broadcast_rms_norm(t, layer.weight, 1e-6), x, grad
    )
    assert np.abs(out - ref_out).max() == 0.0
    for got, want in zip(grads, ref_grads):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)

    x64 = x.astype(np.float64)
    want = x64 / np.sqrt((x64**2).mean(-1, keepdims=True) + 1e-6) * n(layer.weight)
    np.testing.assert_allclose(out, want, atol=2e-5)


def test_widen_rows_is_exact():
    stat = RNG.standard_normal((6, 1)).astype(np.float32)
    ones = flow.ones(1, 5, placement=dist.get_layer_placement(0), sbp=flow.sbp.broadcast)
    np.testing.assert_array_equal(n(widen_rows(g(stat), ones)), np.repeat(stat, 5, axis=1))


def test_norms_are_the_same_in_a_graph_and_build_no_tensor_inside_it():
    x = g(RNG.standard_normal((2, 6, 16)).astype(np.float32))
    ln, rms = LayerNorm(16), RMSLayerNorm(16)

    class Norms(flow.nn.Graph):
        def __init__(self) -> None:
            super().__init__()
            self.ln, self.rms = ln, rms

        def build(self, t):
            return self.ln(t) + self.rms(t)

    with warnings.catch_warnings():
        # A factory (flow.ones) called inside the trace would warn "not registered".
        warnings.simplefilter("error")
        out = Norms()(x)
    np.testing.assert_array_equal(n(out), n(ln(x) + rms(x)))


def test_the_ones_row_is_not_checkpointed():
    assert set(LayerNorm(8).state_dict()) == {"weight", "bias"}
    assert set(RMSLayerNorm(8).state_dict()) == {"weight"}
