"""LiBai's library utilities: distributed utilities, checkpoints, logging, events.

This ``__init__`` deliberately imports nothing. ``import libai.utils`` must stay
cheap and OneFlow-free, because the config layer and the command line's
read-only commands reach ``libai.utils.*`` submodules by dotted path without
wanting OneFlow. Import the submodule you need instead::

    from libai.utils import distributed as dist      # imports OneFlow
    from libai.utils.oneflow_env import flow           # the one OneFlow import
"""
