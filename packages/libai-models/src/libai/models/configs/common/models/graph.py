"""Graph (static) mode switches, as LiBai's ``configs/common/models/graph.py``."""

from libai.config import LazyCall
from libai.models.utils import GraphBase

graph = dict(
    # Train and evaluate with nn.Graph (False: eager mode).
    enabled=True,
    debug=-1,
    auto_parallel=dict(
        enabled=False,
        enable_auto_parallel_ignore_user_sbp_config=False,
        trunk_algo=True,
        sbp_collector=False,
    ),
    train_graph=LazyCall(GraphBase)(is_train=True),
    global_mode=dict(enabled=False),
    eval_graph=LazyCall(GraphBase)(is_train=False),
)
