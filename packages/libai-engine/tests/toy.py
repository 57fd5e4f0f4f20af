"""Small models, a synthetic dataset and its loader builder for the engine's tests.

Nothing here needs libai-models or libai-data. The loader follows LiBai's
sampler contract: every data-parallel rank takes its slice of each global micro
batch, ``consumed_samples`` skips what a resumed run already trained on, and the
order is a seeded permutation per epoch -- so one process with a global batch of
8 sees exactly the samples two processes with micro batches of 4 see together.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from libai.config import engine_supplied
from libai.inference.generation import GenerationMixin
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

NUM_FEATURES = 16
NUM_CLASSES = 4


class ToyDataset:
    """``n`` samples: features ``x`` (float32, 16) and a class label that depends on them."""

    def __init__(self, n: int = 256, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((n, NUM_FEATURES)).astype("float32")
        w = rng.standard_normal((NUM_FEATURES, NUM_CLASSES)).astype("float32")
        self.labels = (self.x @ w).argmax(axis=1).astype("int64")

    def __len__(self) -> int:
        return len(self.x)


class ToyLoader:
    """Yields ``{"x": (m, 16), "labels": (m,)}`` numpy batches for this data-parallel rank."""

    def __init__(
        self,
        dataset: ToyDataset,
        micro_batch_size: int,
        seed: int = 0,
        consumed_samples: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        faults: Optional[dict] = None,
    ) -> None:
        self.faults = dict(faults or {})
        self.dataset = dataset
        self.micro_batch_size = micro_batch_size
        self.seed = seed
        self.consumed_samples = consumed_samples
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.dp_size = dist.get_data_parallel_size()
        self.dp_rank = dist.get_data_parallel_rank()

    def _order(self, epoch: int) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng(self.seed + epoch).permutation(n)

    def __iter__(self):
        n = len(self.dataset)
        step = self.micro_batch_size * self.dp_size
        per_epoch = n // step if self.drop_last else -(-n // step)
        # Skip whole global micro batches already consumed (resume).
        skip = self.consumed_samples // step
        epoch, start = divmod(skip, per_epoch) if per_epoch else (0, 0)
        while True:
            order = self._order(epoch)
            for b in range(start, per_epoch):
                idx = order[b * step : (b + 1) * step]
                mine = idx[
                    self.dp_rank * self.micro_batch_size : (self.dp_rank + 1)
                    * self.micro_batch_size
                ]
                x = self.dataset.x[mine]
                if self.faults:
                    x = _inject_fault(self.faults, epoch * per_epoch + b, self.dp_rank, x)
                self.consumed_samples += len(idx)
                yield {"x": x, "labels": self.dataset.labels[mine]}
            if not self.shuffle:
                return  # a test loader: one pass
            epoch, start = epoch + 1, 0

    def __len__(self) -> int:
        step = self.micro_batch_size * self.dp_size
        return len(self.dataset) // step if self.drop_last else -(-len(self.dataset) // step)


def _inject_fault(faults: dict, batch: int, rank: int, x: np.ndarray) -> np.ndarray:
    """Faults for the fault-tolerance tests, at global batch ``batch`` (= the iteration):

    ``crash_at``: die of SIGSEGV (on ``crash_rank`` only, if given), once when
    ``crash_marker`` names a file (created just before), every time otherwise;
    ``nan_at``: NaN features, so the loss is NaN.
    """
    import os
    import signal

    if batch == faults.get("crash_at") and faults.get("crash_rank", rank) == rank:
        marker = faults.get("crash_marker")
        if not marker or not os.path.exists(marker):
            if marker:
                with open(marker, "w") as f:
                    f.write(f"rank {rank} crashed at batch {batch}\n")
            os.kill(os.getpid(), signal.SIGSEGV)
    if batch == faults.get("nan_at"):
        x = np.full_like(x, np.nan)
    return x


@engine_supplied("train_batch_size", "test_batch_size", "seed", "consumed_samples")
def build_toy_loaders(
    num_samples: int = 256,
    num_test_samples: int = 64,
    train_batch_size: int = 8,
    test_batch_size: int = 8,
    seed: int = 0,
    consumed_samples: int = 0,
    faults: Optional[dict] = None,
) -> tuple[Any, Any, None]:
    """``(train_loader, valid_loader, None)`` over :class:`ToyDataset` (the valid set has its
    own seed); ``faults`` injects a crash or NaN data into the train loader (see
    :func:`_inject_fault`)."""
    train = ToyLoader(
        ToyDataset(num_samples, seed=0),
        train_batch_size,
        seed=seed,
        consumed_samples=consumed_samples,
        faults=faults,
    )
    valid = ToyLoader(
        ToyDataset(num_test_samples, seed=1), test_batch_size, shuffle=False, drop_last=False
    )
    return train, valid, None


@engine_supplied("test_batch_size")
def build_toy_test_loader(num_samples: int = 64, test_batch_size: int = 8) -> ToyLoader:
    return ToyLoader(
        ToyDataset(num_samples, seed=1), test_batch_size, shuffle=False, drop_last=False
    )


class ToyMLP(flow.nn.Module):
    """Two linear layers; ``{"loss": ce}`` in training, ``{"prediction_scores": logits}`` in eval."""

    def __init__(self, hidden: int = 32, split_fc1: bool = False) -> None:
        super().__init__()
        self.fc1 = flow.nn.Linear(NUM_FEATURES, hidden)
        self.act = flow.nn.GELU()
        self.fc2 = flow.nn.Linear(hidden, NUM_CLASSES)
        self.loss = flow.nn.CrossEntropyLoss()
        if split_fc1:
            # fc1 column-parallel over the tensor-parallel ranks (the rest broadcast): each
            # rank holds a part, so gathering it for a checkpoint moves data between ranks.
            dist.convert_to_distributed_default_setting(self)
            self.fc1.to_global(
                placement=dist.get_layer_placement(0),
                sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.split(0)]),
            )

    def forward(self, x: Any, labels: Optional[Any] = None) -> dict:
        logits = self.fc2(self.act(self.fc1(x)))
        if self.training and labels is not None:
            return {"loss": self.loss(logits, labels)}
        return {"prediction_scores": logits}


# ---------------------------------------------------------------- a tiny language model


class CharTokenizer:
    """Characters of a fixed alphabet <-> ids (what SampleTextHook needs: encode/decode)."""

    def __init__(self, alphabet: str = "abcdefghijklmnopqrstuvwxyz .") -> None:
        self.alphabet = alphabet
        self.vocab_size = len(alphabet)

    def encode(self, text: str) -> list[int]:
        return [self.alphabet.index(c) for c in text if c in self.alphabet]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.alphabet[i] for i in ids)

    def padded_vocab_size(self, divisible_by: int, tensor_parallel_size: int = 1) -> int:
        multiple = divisible_by * tensor_parallel_size
        return -(-self.vocab_size // multiple) * multiple


class TransformerLayer(flow.nn.Module):
    """Pre-norm causal self-attention + MLP (activation checkpointing marks this class)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1_w = flow.nn.Parameter(flow.ones(hidden))
        self.ln2_w = flow.nn.Parameter(flow.ones(hidden))
        self.qkv = flow.nn.Linear(hidden, 3 * hidden)
        self.proj = flow.nn.Linear(hidden, hidden)
        self.fc1 = flow.nn.Linear(hidden, 4 * hidden)
        self.fc2 = flow.nn.Linear(4 * hidden, hidden)
        self.act = flow.nn.GELU()

    def _ln(self, x: Any, w: Any) -> Any:
        # flow.nn.functional.layer_norm: the fused flow._C.layer_norm aborts on the CPU.
        return flow.nn.functional.layer_norm(x, (x.shape[-1],)) * w

    def forward(self, x: Any) -> Any:
        b, s, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(self._ln(x, self.ln1_w)).chunk(3, dim=-1)
        q = q.reshape(b, s, self.heads, d).permute(0, 2, 1, 3)
        k = k.reshape(b, s, self.heads, d).permute(0, 2, 1, 3)
        v = v.reshape(b, s, self.heads, d).permute(0, 2, 1, 3)
        att = flow.matmul(q, k.transpose(-2, -1)) / (d**0.5)
        mask = (
            flow.tril(flow.ones(s, s, placement=x.placement, sbp=flow.sbp.broadcast))
            if x.is_global
            else flow.tril(flow.ones(s, s))
        )
        att = att.masked_fill(mask == 0, -1e4).softmax(dim=-1)
        y = flow.matmul(att, v).permute(0, 2, 1, 3).reshape(b, s, h)
        x = x + self.proj(y)
        return x + self.fc2(self.act(self.fc1(self._ln(x, self.ln2_w))))


class ToyLM(GenerationMixin, flow.nn.Module):
    """A GPT-like model: ``{"lm_loss": ...}`` with ``labels``, else ``{"prediction_scores": logits}``.

    It generates through ``GenerationMixin`` with the simplest cache the protocol allows:
    the ids seen so far (batch on dim 0), recomputed on every step. Prompts are not
    padded here, so the attention mask and positions are not needed.
    """

    def __init__(
        self,
        vocab_size: int = 28,
        hidden: int = 32,
        layers: int = 2,
        heads: int = 2,
        max_len: int = 64,
    ) -> None:
        super().__init__()
        self.tok = flow.nn.Embedding(vocab_size, hidden)
        self.pos = flow.nn.Embedding(max_len, hidden)
        self.layers = flow.nn.ModuleList([TransformerLayer(hidden, heads) for _ in range(layers)])
        self.head = flow.nn.Linear(hidden, vocab_size)
        self.loss = flow.nn.CrossEntropyLoss()

    def forward(self, input_ids: Any, labels: Optional[Any] = None) -> dict:
        s = input_ids.shape[1]
        if input_ids.is_global:
            pos = flow.arange(s, placement=input_ids.placement, sbp=flow.sbp.broadcast).unsqueeze(0)
        else:
            pos = flow.arange(s).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(pos)
        for layer in self.layers:
            x = layer(x)
        logits = self.head(x)
        if labels is not None and self.training:
            return {"lm_loss": self.loss(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))}
        return {"prediction_scores": logits}

    def generation_forward(
        self, input_ids: Any, *, past_key_values: Any, use_cache: bool, **_: Any
    ) -> tuple:
        ids = (
            input_ids
            if past_key_values is None
            else flow.cat([past_key_values[0][0], input_ids], 1)
        )
        logits = self(ids)["prediction_scores"][:, -input_ids.shape[1] :]
        return logits, (((ids,),) if use_cache else None)


class TextLoader:
    """Windows of ``seq_len`` characters of a repeated text; ``labels`` are the next characters."""

    def __init__(
        self,
        text: str,
        tokenizer: CharTokenizer,
        seq_len: int,
        micro_batch_size: int,
        consumed_samples: int = 0,
    ) -> None:
        ids = np.array(tokenizer.encode(text), dtype="int64")
        self.windows = np.stack([ids[i : i + seq_len + 1] for i in range(len(ids) - seq_len - 1)])
        self.dataset = self.windows
        self.m = micro_batch_size
        self.dp_size = dist.get_data_parallel_size()
        self.dp_rank = dist.get_data_parallel_rank()
        self.consumed = consumed_samples

    def __iter__(self):
        step = self.m * self.dp_size
        n = len(self.windows)
        b = self.consumed // step
        while True:
            idx = [(b * step + j) % n for j in range(step)]
            mine = idx[self.dp_rank * self.m : (self.dp_rank + 1) * self.m]
            w = self.windows[mine]
            b += 1
            yield {"input_ids": w[:, :-1], "labels": w[:, 1:]}


@engine_supplied("train_batch_size", "consumed_samples", "tokenizer")
def build_text_loaders(
    text: str = "the quick brown fox jumps over the lazy dog. ",
    repeat: int = 20,
    seq_len: int = 16,
    train_batch_size: int = 4,
    consumed_samples: int = 0,
    tokenizer: Any = None,
) -> tuple[Any, None, None]:
    tokenizer = tokenizer or CharTokenizer()
    return (
        TextLoader(text * repeat, tokenizer, seq_len, train_batch_size, consumed_samples),
        None,
        None,
    )


# ---------------------------------------------------------------- hooks for tests

from libai.engine.hooks import HookBase  # noqa: E402


class SlowHook(HookBase):
    """Sleeps after each step so a test can kill the run mid-training."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds

    def after_step(self) -> None:
        import time

        time.sleep(self.seconds)


class RecordHook(HookBase):
    """Writes the iterations it saw to ``path`` (one line per call) -- proves cfg.train.hooks run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def after_train(self) -> None:
        with open(self.path, "w") as f:
            f.write(f"after_train {self.trainer.iter} {self.trainer.__class__.__name__}\n")


class ScriptedEvaluator:
    """Reports ``{metric: scores[iteration]}``: an evaluation result a test chooses per iteration."""

    def __init__(self, scores: dict, metric: str = "score") -> None:
        self.scores = {int(k): float(v) for k, v in scores.items()}
        self.metric = metric

    def reset(self) -> None:
        pass

    def process(self, inputs: Any, outputs: Any) -> None:
        pass

    def evaluate(self) -> dict:
        from libai.engine.events import get_event_storage

        return {self.metric: self.scores[get_event_storage().iter]}
