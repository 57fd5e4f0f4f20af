"""Optimizer parameter groups (LiBai's ``libai.optim``).

The optimizers themselves are OneFlow's (``flow.optim.AdamW``, ``Adam``, ``SGD``,
``LAMB``), registered in the ``libai.optimizers`` entry-point group. A config::

    optim = LazyCall(flow.optim.AdamW)(
        params=LazyCall(get_default_optimizer_params)(
            weight_decay_norm=0.0, weight_decay_bias=0.0,
            clip_grad_max_norm=1.0, clip_grad_norm_type=2.0,
        ),
        lr=1e-4, weight_decay=0.01,
    )

``params.model`` is filled in by the trainer (:func:`build_optimizer`).
"""

from libai.optim.build import build_optimizer, get_default_optimizer_params, reduce_param_groups

__all__ = ["build_optimizer", "get_default_optimizer_params", "reduce_param_groups"]
