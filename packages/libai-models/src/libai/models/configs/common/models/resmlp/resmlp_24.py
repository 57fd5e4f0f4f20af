"""ResMLP-24 at 224x224 (LiBai's sizes)."""

from libai.config import LazyCall
from libai.models import ResMLP

from .resmlp_12 import cfg

cfg.depth = 24
cfg.init_scale = 1e-05

model = LazyCall(ResMLP)(cfg=cfg)
