"""SwinV2-B, window 16, 256x256 (LiBai's sizes)."""

from libai.config import LazyCall
from libai.models import SwinTransformerV2

from .swinv2_tiny_patch4_window8_256 import cfg

cfg.embed_dim = 128
cfg.depths = [2, 2, 18, 2]
cfg.num_heads = [4, 8, 16, 32]
cfg.window_size = 16
cfg.drop_path_rate = 0.5

model = LazyCall(SwinTransformerV2)(cfg=cfg)
