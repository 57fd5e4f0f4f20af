"""libai.utils.checkpoint: round trips, atomic saves, corrupt files, max_to_keep, RNG."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
from libai.scheduler import WarmupCosineLR
from libai.utils import distributed as dist
from libai.utils.checkpoint import Checkpointer, CheckpointError
from libai.utils.oneflow_env import flow


def _setup(seed: int, global_model: bool = True):
    flow.manual_seed(seed)
    model = flow.nn.Sequential(flow.nn.Linear(4, 8), flow.nn.ReLU(), flow.nn.Linear(8, 2))
    if global_model:
        dist.setup_dist_util({"data_parallel_size": 1})
        dist.convert_to_distributed_default_setting(model)
    optimizer = flow.optim.AdamW(model.parameters(), lr=0.01)
    scheduler = WarmupCosineLR(optimizer, max_iter=10, warmup_factor=0.1, warmup_iter=2)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, steps: int):
    for i in range(steps):
        x = flow.tensor(np.full((3, 4), 0.1 * (i + 1), dtype=np.float32))
        if model[0].weight.is_global:
            x = x.to_global(placement=model[0].weight.placement, sbp=flow.sbp.broadcast)
        model(x).pow(2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()


def _numpy_state(model):
    return {k: dist.tton(v).copy() for k, v in model.state_dict().items()}


def _optimizer_moments(optimizer):
    state = optimizer.state_dict()["state"]
    return {
        (k, name): dist.tton(t).copy()
        for k, entry in state.items()
        if isinstance(entry, dict)
        for name, t in entry.items()
        if isinstance(t, flow.Tensor)
    }


@pytest.mark.parametrize("global_model", [True, False])
def test_round_trip_restores_params_optimizer_scheduler_and_extra(tmp_path, global_model):
    model, optimizer, scheduler = _setup(0, global_model)
    _train(model, optimizer, scheduler, 3)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer, lr_scheduler=scheduler)
    path = ckpt.save("model_0000002", iteration=2, consumed_samples=12)
    assert sorted(os.listdir(path)) == ["lr_scheduler", "meta.json", "model", "optimizer"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000002"

    expected_params = _numpy_state(model)
    expected_moments = _optimizer_moments(optimizer)
    expected_lr = optimizer.param_groups[0]["lr"]

    model2, optimizer2, scheduler2 = _setup(1, global_model)  # different init
    fresh = Checkpointer(model2, str(tmp_path), optimizer=optimizer2, lr_scheduler=scheduler2)
    assert fresh.has_checkpoint() and fresh.get_checkpoint_file() == path
    extra = fresh.resume_or_load(None, resume=True)
    assert extra == {"iteration": 2, "consumed_samples": 12}
    for key, value in _numpy_state(model2).items():
        np.testing.assert_array_equal(value, expected_params[key])
    moments = _optimizer_moments(optimizer2)
    assert moments.keys() == expected_moments.keys() and moments
    for key, value in moments.items():
        np.testing.assert_array_equal(value, expected_moments[key])
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(expected_lr)
    assert scheduler2.last_step == scheduler.last_step

    # Training on from both gives the same parameters.
    _train(model, optimizer, scheduler, 2)
    _train(model2, optimizer2, scheduler2, 2)
    for key, value in _numpy_state(model2).items():
        np.testing.assert_allclose(value, _numpy_state(model)[key], rtol=1e-6)
    assert Checkpointer.last_checkpoint_iteration(str(tmp_path)) == 2


def test_rng_states_are_restored_on_resume_only(tmp_path):
    model, optimizer, _ = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer)
    random.seed(5)
    np.random.seed(5)
    flow.manual_seed(5)
    ckpt.save("model_0000000", iteration=0)
    expected = (random.random(), np.random.rand(), flow.rand(1).numpy()[0])

    random.seed(99)
    np.random.seed(99)
    flow.manual_seed(99)
    ckpt.load(ckpt.get_checkpoint_file(), checkpointables=[])  # weights only: no RNG
    assert random.random() != expected[0]
    ckpt.resume_or_load(None, resume=True)
    assert (random.random(), np.random.rand(), flow.rand(1).numpy()[0]) == expected


def test_load_weight_loads_the_model_only(tmp_path):
    model, optimizer, scheduler = _setup(0)
    _train(model, optimizer, scheduler, 2)
    Checkpointer(model, str(tmp_path / "a"), optimizer=optimizer).save("model_final", iteration=9)

    model2, optimizer2, _ = _setup(1)
    ckpt = Checkpointer(model2, str(tmp_path / "b"), optimizer=optimizer2)
    extra = ckpt.resume_or_load(str(tmp_path / "a" / "model_final"), resume=True)  # nothing in b
    assert extra == {"iteration": 9}
    for key, value in _numpy_state(model2).items():
        np.testing.assert_array_equal(value, _numpy_state(model)[key])
    assert _optimizer_moments(optimizer2) == {}  # optimizer untouched

    # A bare flow.save directory of a state dict loads too (LiBai-style weights).
    flow.save(model.state_dict(), str(tmp_path / "bare"), global_dst_rank=0)
    model3, _, _ = _setup(2)
    Checkpointer(model3).load(str(tmp_path / "bare"))
    for key, value in _numpy_state(model3).items():
        np.testing.assert_array_equal(value, _numpy_state(model)[key])


def test_interrupted_save_is_ignored(tmp_path):
    model, optimizer, _ = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer)
    good = ckpt.save("model_0000004", iteration=4)
    # A crash mid-save leaves a tmp directory without meta.json, and may even
    # have pointed nothing new at it: it must never be picked up.
    leftover = tmp_path / "model_0000009.tmp-deadbeef"
    (leftover / "model").mkdir(parents=True)
    (leftover / "model" / "pickled_data").write_bytes(b"\x80partial")
    assert ckpt.get_checkpoint_file() == good
    assert ckpt.get_all_checkpoint_files() == [good]
    # Even a stale last_checkpoint naming an unfinished directory falls back to a complete one.
    (tmp_path / "last_checkpoint").write_text("model_0000009")
    assert ckpt.get_checkpoint_file() == good
    assert ckpt.resume_or_load(None)["iteration"] == 4
    # Saving that name again clears the leftover.
    ckpt.save("model_0000009", iteration=9)
    assert not leftover.exists()
    assert ckpt.resume_or_load(None)["iteration"] == 9


def test_crash_between_the_two_renames_keeps_the_old_checkpoint(tmp_path):
    model, optimizer, _ = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer)
    ckpt.save("model_final", iteration=7)
    # Replacing model_final moves the old one aside first; die right after that.
    os.replace(tmp_path / "model_final", tmp_path / "model_final.old-0123abcd")
    assert ckpt.get_checkpoint_file() == str(tmp_path / "model_final.old-0123abcd")
    assert ckpt.resume_or_load(None)["iteration"] == 7


def test_truncated_file_is_an_error_naming_it(tmp_path):
    model, optimizer, _ = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer)
    path = ckpt.save("model_0000001", iteration=1)
    meta = json.loads((tmp_path / "model_0000001" / "meta.json").read_text())
    victim = next(rel for rel in meta["files"] if rel.startswith("optimizer"))
    full = os.path.join(path, victim)
    with open(full, "r+b") as f:
        f.truncate(max(os.path.getsize(full) // 2, 1))
    with pytest.raises(CheckpointError, match=f"{full} is truncated or corrupt"):
        ckpt.load(path)

    os.remove(full)
    with pytest.raises(CheckpointError, match=f"checkpoint file missing: {full}"):
        ckpt.load(path)

    (tmp_path / "model_0000001" / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="meta.json"):
        ckpt.load(path)

    with pytest.raises(CheckpointError, match="checkpoint not found: .*nowhere"):
        ckpt.load(str(tmp_path / "nowhere"))


def test_corrupt_bare_weights_are_an_error_naming_the_directory(tmp_path):
    bare = tmp_path / "weights"
    bare.mkdir()
    (bare / "pickled_data").write_bytes(b"garbage")
    model, _, _ = _setup(0)
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint file {bare}"):
        Checkpointer(model).load(str(bare))


def test_max_to_keep_prunes_old_numbered_checkpoints(tmp_path):
    model, optimizer, _ = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer, max_to_keep=2)
    for it in range(4):
        ckpt.save(f"model_{it:07d}", iteration=it)
    ckpt.save("model_best", iteration=3, tag_last=False)
    names = sorted(os.path.basename(p) for p in ckpt.get_all_checkpoint_files())
    assert names == ["model_0000002", "model_0000003", "model_best"]
    assert ckpt.get_checkpoint_file().endswith("model_0000003")


def test_saving_twice_under_one_name_replaces_it(tmp_path):
    model, optimizer, scheduler = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer)
    ckpt.save("model_final", iteration=1)
    _train(model, optimizer, scheduler, 1)
    ckpt.save("model_final", iteration=2)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_final"]
    assert Checkpointer.last_checkpoint_iteration(str(tmp_path)) == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_to_keep"):
        Checkpointer(None, "x", max_to_keep=0)
    with pytest.raises(ValueError, match="plain directory name"):
        Checkpointer(flow.nn.Linear(1, 1), "x").save("a.tmp-1")
    assert Checkpointer(flow.nn.Linear(1, 1), "").save("model_final") == ""
    assert Checkpointer.last_checkpoint_iteration("/nonexistent/dir") is None


@pytest.mark.parametrize("where", ["directory", "file", "last_checkpoint"])
def test_a_save_that_cannot_be_written_names_the_path_and_keeps_the_previous(
    tmp_path, monkeypatch, where
):
    """A read-only directory (as root, permissions are not enforced: the OSError is
    injected where it would come from) leaves the previous checkpoint the newest."""
    model, optimizer, scheduler = _setup(0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=optimizer, lr_scheduler=scheduler)
    ckpt.save("model_0000001", iteration=1)
    denied = PermissionError(13, "Permission denied")

    def fail(*args, **kwargs):
        denied.filename = str(args[0]) if args else None
        raise denied

    import libai.utils.checkpoint as module

    if where == "directory":
        monkeypatch.setattr(module.os, "makedirs", fail)
    elif where == "file":
        monkeypatch.setattr(module.flow, "save", lambda state, path, **kw: fail(path))
    else:
        monkeypatch.setattr(module, "_write_atomic_text", fail)
    with pytest.raises(CheckpointError) as info:
        ckpt.save("model_0000002", iteration=2)
    message = str(info.value)
    assert message.startswith(f"cannot write checkpoint 'model_0000002': {tmp_path}/model_0000002")
    assert "Permission denied; the previous checkpoint stays the newest" in message
    monkeypatch.undo()
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001"
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001"]
    assert Checkpointer.last_checkpoint_iteration(str(tmp_path)) == 1
    assert ckpt.load(str(tmp_path / "model_0000001"))["iteration"] == 1
