"""libai.layers against plain numpy references, on global tensors (one CPU process)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from libai.layers import (
    MLP,
    AttnMaskType,
    DropPath,
    Embedding,
    LayerNorm,
    Linear,
    LMLogits,
    MultiheadAttention,
    ParallelCrossEntropyLoss,
    PatchEmbedding,
    RMSLayerNorm,
    TransformerLayer,
    VocabEmbedding,
    build_activation,
)
from libai.layers._fused import fused_kernel_available
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

RNG = np.random.default_rng(0)


def g(array: np.ndarray, dtype=flow.float32):
    return flow.tensor(array, dtype=dtype).to_global(
        placement=dist.get_layer_placement(0), sbp=dist.get_hidden_sbp()
    )


def n(tensor) -> np.ndarray:
    return tensor.to_local().numpy()


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize(
    "name", ["bias_gelu", "bias_dropout", "scale_mask_softmax", "scale_tril_softmax"]
)
def test_fused_kernels_are_detected_missing_on_the_cpu(name):
    assert fused_kernel_available(name, "cpu") is False


def test_fused_kernel_probes_do_not_move_the_random_stream():
    from libai.layers import _fused

    def draw():
        weight = flow.empty(4, 4, placement=dist.get_layer_placement(0), sbp=flow.sbp.broadcast)
        return n(flow.nn.init.normal_(weight))

    flow.manual_seed(0)
    expected = draw()
    flow.manual_seed(0)
    _fused._CACHE.clear()
    for name in _fused._PROBES:
        fused_kernel_available(name, "cpu")
    np.testing.assert_array_equal(draw(), expected)


@pytest.mark.parametrize("parallel", ["col", "row", "data"])
def test_linear_matches_numpy(parallel):
    layer = Linear(6, 4, parallel=parallel)
    with flow.no_grad():
        layer.bias.copy_(g(np.arange(4, dtype=np.float32)))
    x = RNG.standard_normal((2, 3, 6)).astype(np.float32)
    expected = x @ n(layer.weight).T + np.arange(4)
    np.testing.assert_allclose(n(layer(g(x))), expected, atol=1e-5)
    out, bias = Linear(6, 4, skip_bias_add=True)(g(x))
    assert tuple(out.shape) == (2, 3, 4) and tuple(bias.shape) == (4,)


def test_linear_rejects_an_unknown_parallel_mode():
    with pytest.raises(ValueError, match="use one of \\('col', 'row', 'data'\\)"):
        Linear(2, 2, parallel="column")


def test_layer_norms_match_numpy():
    x = RNG.standard_normal((2, 3, 8)).astype(np.float32)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(
        n(LayerNorm(8, eps=1e-5)(g(x))), (x - mean) / np.sqrt(var + 1e-5), atol=1e-5
    )
    rms = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(n(RMSLayerNorm(8)(g(x))), rms, atol=1e-5)


def _reference_attention(layer, x, mask, causal):
    qkv = x @ n(layer.query_key_value.weight).T + n(layer.query_key_value.bias)
    b, s, _ = x.shape
    heads, d = layer.num_heads, layer.head_size
    qkv = qkv.reshape(b, s, heads, 3 * d).transpose(0, 2, 1, 3)
    q, k, v = qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    keep = np.ones((s, s), dtype=bool) if mask is None else mask[:, None, None, :].astype(bool)
    if causal:
        keep = keep & np.tril(np.ones((s, s), dtype=bool))
    scores = np.where(keep, scores, scores - 10000.0)
    context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, s, heads * d)
    return context @ n(layer.dense.weight).T + n(layer.dense.bias)


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_with_masks_matches_numpy(causal):
    mask_type = AttnMaskType.causal if causal else AttnMaskType.padding
    layer = MultiheadAttention(8, 2, attn_mask_type=mask_type, scale_mask_softmax_fusion=True)
    x = RNG.standard_normal((2, 5, 8)).astype(np.float32)
    mask = np.ones((2, 5), dtype=np.int64)
    mask[1, 3:] = 0
    out = layer(g(x), attention_mask=g(mask[:, None, None, :], flow.int64))
    np.testing.assert_allclose(n(out), _reference_attention(layer, x, mask, causal), atol=1e-5)


def test_query_key_layer_scaling_is_exact_in_float32():
    flow.manual_seed(1)
    plain = MultiheadAttention(8, 2, layer_idx=0)
    scaled = MultiheadAttention(8, 2, apply_query_key_layer_scaling=True, layer_idx=0)
    scaled.load_state_dict(plain.state_dict())
    x = g(RNG.standard_normal((2, 4, 8)).astype(np.float32))
    np.testing.assert_allclose(n(scaled(x)), n(plain(x)), atol=1e-6)
    # On the CPU (float32 only) the divide-then-multiply pair is folded away entirely.
    assert scaled.coeff is None and scaled.norm_factor == plain.norm_factor == 0.5
    np.testing.assert_array_equal(n(scaled(x)), n(plain(x)))
    deep = MultiheadAttention(8, 2, apply_query_key_layer_scaling=True, layer_idx=3)
    assert deep.coeff is None and deep.norm_factor == 0.5


def test_cross_attention_and_cache_shapes():
    layer = MultiheadAttention(8, 2, is_cross_attention=True)
    out, (k, v) = layer(
        g(np.ones((2, 3, 8), np.float32)), g(np.ones((2, 7, 8), np.float32)), use_cache=True
    )
    assert tuple(out.shape) == (2, 3, 8)
    assert tuple(k.shape) == tuple(v.shape) == (2, 2, 7, 4)
    with pytest.raises(ValueError, match="needs encoder_states or past_key_value"):
        layer(g(np.ones((2, 3, 8), np.float32)))


def test_mlp_activations():
    x = RNG.standard_normal((2, 8)).astype(np.float32)
    tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(n(build_activation("gelu_tanh")(g(x))), tanh, atol=1e-6)
    with pytest.raises(ValueError, match="did you mean gelu"):
        build_activation("gelu_tahn")
    mlp = MLP(8, 16, activation="relu", bias=False, bias_gelu_fusion=True)
    assert mlp.dense_h_to_4h.bias is None
    hidden = np.maximum(x @ n(mlp.dense_h_to_4h.weight).T, 0)
    np.testing.assert_allclose(n(mlp(g(x))), hidden @ n(mlp.dense_4h_to_h.weight).T, atol=1e-5)


def test_transformer_decoder_layer_and_post_layernorm():
    enc = g(RNG.standard_normal((2, 6, 16)).astype(np.float32))
    x = g(RNG.standard_normal((2, 4, 16)).astype(np.float32))
    layer = TransformerLayer(16, 32, 4, is_decoder=True, attn_mask_type=AttnMaskType.causal)
    out, presents = layer(x, encoder_states=enc, use_cache=True)
    assert tuple(out.shape) == (2, 4, 16) and len(presents) == 4
    post = TransformerLayer(16, 32, 4, apply_residual_post_layernorm=True, norm_type="rmsnorm")
    assert isinstance(post.input_layernorm, RMSLayerNorm)
    assert tuple(post(x).shape) == (2, 4, 16)


def test_drop_path():
    x = g(np.ones((1000, 4), np.float32))
    layer = DropPath(0.25)
    layer.eval()
    assert (n(layer(x)) == 1).all()
    layer.train()
    rows = n(layer(x))[:, 0]
    assert np.all(np.isclose(rows, 0.0) | np.isclose(rows, 1 / 0.75))
    assert 0.15 < (rows == 0).mean() < 0.35
    with pytest.raises(ValueError):
        DropPath(1.0)


def test_patch_embedding():
    layer = PatchEmbedding(img_size=8, patch_size=4, in_chans=3, embed_dim=10, norm_layer=LayerNorm)
    out = layer(g(RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)))
    assert tuple(out.shape) == (2, 4, 10) and layer.num_patches == 4
    with pytest.raises(ValueError, match="got an image of 4x4"):
        layer(g(np.zeros((2, 3, 4, 4), np.float32)))


def test_embeddings_logits_and_cross_entropy_match_numpy():
    vocab = VocabEmbedding(10, 6, padding_idx=0)
    pos = Embedding(5, 6)
    ids = np.array([[0, 3, 9], [2, 2, 1]])
    emb = n(vocab(g(ids, flow.int64)))
    np.testing.assert_allclose(emb, n(vocab.weight)[ids])
    assert (emb[0, 0] == 0).all()
    assert tuple(pos(flow.tensor([[0, 1, 2]])).shape) == (1, 3, 6)
    hidden = RNG.standard_normal((2, 3, 6)).astype(np.float32)
    logits = n(LMLogits(10)(g(hidden), vocab.weight))
    np.testing.assert_allclose(logits, hidden @ n(vocab.weight).T, atol=1e-5)
    targets = np.array([[1, 2, 3], [4, 5, -1]])
    loss = n(ParallelCrossEntropyLoss()(g(logits), g(targets, flow.int64)))
    logp = np.log(softmax(logits))
    expected = -np.take_along_axis(logp, np.maximum(targets, 0)[..., None], -1).reshape(-1)
    np.testing.assert_allclose(loss, expected, atol=1e-5)
    with pytest.raises(ValueError, match="expects logits \\(B, S, V\\)"):
        ParallelCrossEntropyLoss()(g(logits[0]), g(targets, flow.int64))
