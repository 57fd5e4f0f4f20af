"""toy_mlp.py with a hook that slows each step down (for the kill-and-resume test)."""

from libai.config import LazyCall

from .toy_mlp import dataloader, graph, model, optim, train

train.hooks = [LazyCall("toy.SlowHook")(seconds=0.15)]
