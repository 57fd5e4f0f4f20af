"""DefaultTrainer in-process: hook list (defaults, cfg.train.hooks, plugins), batches, loader arguments."""

import numpy as np
import pytest
from libai.config import LazyCall, LazyConfig, hookimpl
from libai.config.plugins import get_plugin_manager, reset_plugin_manager
from libai.engine import DefaultTrainer, default_setup, hooks
from libai.engine.data import fill_engine_args, get_batch
from libai.utils.oneflow_env import flow
from omegaconf import OmegaConf
from runner import CONFIGS


class PluginHook(hooks.HookBase):
    def __init__(self):
        self.calls = []

    def after_step(self):
        self.calls.append(self.trainer.iter)


class TrainerPlugin:
    """A plugin object, registered in code, contributing one hook."""

    def __init__(self):
        self.hook = PluginHook()

    @hookimpl
    def libai_trainer_hooks(self, cfg):
        return [self.hook] if cfg.train.train_iter == 3 else []


@pytest.fixture
def plugin():
    reset_plugin_manager()
    p = TrainerPlugin()
    get_plugin_manager().register(p, name="test-trainer-plugin")
    yield p
    reset_plugin_manager()


def test_hook_order_config_hooks_and_plugin_hooks(tmp_path, plugin):
    cfg = LazyConfig.load(str(CONFIGS / "toy_mlp.py"))
    cfg.train.output_dir = str(tmp_path)
    cfg.train.train_iter = 3
    cfg.train.hooks = [LazyCall("toy.RecordHook")(path=str(tmp_path / "record.txt"))]
    default_setup(cfg)
    trainer = DefaultTrainer(cfg)
    names = [type(h).__name__ for h in trainer._hooks]
    assert names[:8] == [
        "IterationTimer", "LRScheduler", "EvalHook", "BestCheckpointer", "PeriodicCheckpointer",
        "PeriodicWriter", "LossCurveWriter", "RecordHook",
    ]  # fmt: skip
    # then plugin hooks in plugin load order: installed plugins first, ours (registered in code) last
    assert names[-1] == "PluginHook"
    trainer.train()
    assert plugin.hook.calls == [0, 1, 2]
    assert (tmp_path / "record.txt").read_text() == "after_train 3 DefaultTrainer\n"


def test_train_hooks_must_build_hooks(tmp_path):
    cfg = OmegaConf.create(
        {"train": {"hooks": [LazyCall("toy.ToyDataset")(n=2)]}}, flags={"allow_objects": True}
    )
    with pytest.raises(
        TypeError,
        match=r"train.hooks\[0\] must build a libai.engine.hooks.HookBase, got ToyDataset",
    ):
        DefaultTrainer.build_config_hooks(cfg)


def test_get_batch_dict_and_micro_batches():
    from libai.utils import distributed as dist

    dist.setup_dist_util({"data_parallel_size": 1})
    batch = {"x": np.arange(6, dtype="float32").reshape(3, 2), "labels": flow.tensor([1, 2, 3])}
    out = get_batch(batch)
    # split(0) over the data-parallel ranks; with one process LiBai's get_nd_sbp gives broadcast
    assert out["x"].is_global and list(out["x"].sbp) == dist.get_nd_sbp(
        [flow.sbp.split(0), flow.sbp.broadcast]
    )
    assert out["x"].to_local().numpy().tolist() == [[0, 1], [2, 3], [4, 5]]
    both = get_batch([batch, {"x": np.ones((1, 2), "float32"), "labels": flow.tensor([9])}])
    assert both["labels"].to_local().numpy().tolist() == [1, 2, 3, 9]


def test_get_batch_instance_duck_type():
    class DistTensorData:
        def __init__(self, tensor):
            self.tensor, self.device = tensor, None

        def to_global(self, sbp=None, placement=None, device_type="cuda"):
            self.device = device_type
            self.tensor = self.tensor.to_global(
                placement=flow.placement(device_type, [0]), sbp=flow.sbp.broadcast
            )

    class Instance:
        def __init__(self, **fields):
            self._fields = fields

        def get_fields(self):
            return self._fields

    inst = Instance(input_ids=DistTensorData(flow.tensor([[1, 2]])))
    out = get_batch(inst, "cpu")
    assert out["input_ids"].is_global and inst.get_fields()["input_ids"].device == "cpu"
    with pytest.raises(TypeError, match="must be a LiBai Instance or a dict of tensors, got int"):
        get_batch(3)


def test_fill_engine_args_only_fills_accepted_arguments():
    node = LazyCall("toy.build_toy_test_loader")(num_samples=4)
    fill_engine_args(
        node, {"test_batch_size": 2, "seed": 5, "consumed_samples": 9}, path="dataloader.test[0]"
    )
    assert dict(node) == {
        "_target_": "toy.build_toy_test_loader",
        "num_samples": 4,
        "test_batch_size": 2,
    }


@pytest.mark.parametrize(
    ("mode", "values", "saves"), [("max", [1, 3, 2, 4], 3), ("min", [5, 3, 4, 1], 3)]
)
def test_best_checkpointer_saves_on_improvement(mode, values, saves):
    from libai.engine.events import EventStorage

    class Ckpt:
        def __init__(self):
            self.saved = []

        def save(self, name, tag_last=True, **extra):
            self.saved.append((name, tag_last, extra["iteration"]))

    class T:
        max_iter = 100

    ckpt = Ckpt()
    hook = hooks.BestCheckpointer(1, ckpt, "acc", mode=mode)
    hook.trainer = T()
    with EventStorage() as storage:
        hook.trainer.storage = storage
        for it, v in enumerate(values):
            hook.trainer.iter = it
            storage.iter = it
            storage.put_scalar("acc", v)
            hook.after_step()
    assert len(ckpt.saved) == saves and all(
        name == "model_best" and not tag for name, tag, _ in ckpt.saved
    )
    assert hook.best_metric == (max(values) if mode == "max" else min(values))
