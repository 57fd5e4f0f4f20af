"""LiBai's default ``optim`` namespace: AdamW over LiBai's parameter groups.

Use it from an experiment config and change only what differs::

    from libai.config import get_config

    optim = get_config("common/optim.py").optim
    optim.lr = 3e-4

``params.model`` is filled in by the engine when it builds the optimizer.
Targets are registry references and import paths, so this file loads without
OneFlow; the engine resolves them when it instantiates the optimizer.
"""

from libai.config import LazyCall

optim = LazyCall("optimizers:AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        # params.model is supplied by the engine
        clip_grad_max_norm=1.0,
        clip_grad_norm_type=2.0,
        # no weight decay on normalisation layers and biases
        weight_decay_norm=0.0,
        weight_decay_bias=0.0,
    ),
    lr=1e-4,
    weight_decay=0.01,
    betas=(0.9, 0.999),
    eps=1e-8,
    do_bias_correction=True,
)
