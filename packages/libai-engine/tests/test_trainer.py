"""The training loop, its hooks' call order, the event storage and the writers."""

import json
import logging

import pytest
from libai.engine import hooks
from libai.engine.events import EventStorage, get_event_storage
from libai.engine.trainer import HookBase, TrainerBase
from libai.engine.writers import CommonMetricPrinter, JSONWriter, TensorboardXWriter


class CountingTrainer(TrainerBase):
    """Puts loss = 1 / (iter + 1) each step; fails at ``fail_at`` if given."""

    def __init__(self, fail_at=None):
        super().__init__()
        self.fail_at = fail_at

    def run_step(self):
        if self.iter == self.fail_at:
            raise RuntimeError("boom")
        self.write_metrics({"loss": 1.0 / (self.iter + 1), "aux": 0.5}, data_time=0.0)


class Recorder(HookBase):
    def __init__(self, name, log):
        self.name, self.log = name, log

    def before_train(self):
        self.log.append((self.name, "before_train", self.trainer.iter))

    def before_step(self):
        self.log.append((self.name, "before_step", self.trainer.iter))

    def after_step(self):
        self.log.append((self.name, "after_step", self.trainer.iter))

    def after_train(self):
        self.log.append((self.name, "after_train", self.trainer.iter))


def test_hooks_are_called_in_order():
    log = []
    t = CountingTrainer()
    t.register_hooks([Recorder("a", log), None, Recorder("b", log)])
    t.train(2, 4)
    assert log == [
        ("a", "before_train", 2), ("b", "before_train", 2),
        ("a", "before_step", 2), ("b", "before_step", 2), ("a", "after_step", 2), ("b", "after_step", 2),
        ("a", "before_step", 3), ("b", "before_step", 3), ("a", "after_step", 3), ("b", "after_step", 3),
        ("a", "after_train", 4), ("b", "after_train", 4),
    ]  # fmt: skip


def test_after_train_runs_when_a_step_fails():
    log = []
    t = CountingTrainer(fail_at=1)
    t.register_hooks([Recorder("a", log)])
    with pytest.raises(RuntimeError, match="boom"):
        t.train(0, 5)
    assert log[-1] == ("a", "after_train", 1)


def test_register_rejects_non_hooks():
    with pytest.raises(
        TypeError, match="must subclass libai.engine.hooks.HookBase; got builtins.object"
    ):
        CountingTrainer().register_hooks([object()])


def test_total_loss_sums_loss_keys_only():
    t = CountingTrainer()
    t.train(0, 3)
    hist = t.storage.history("total_loss").values()
    assert hist == [(1.0, 0), (0.5, 1), (pytest.approx(1 / 3), 2)]
    assert t.storage.history("aux").latest() == 0.5


def test_storage_new_scalars_returns_each_value_once():
    with EventStorage(0) as s:
        assert get_event_storage() is s
        s.put_scalar("loss", 3.0)
        s.step()
        s.put_scalar("loss", 2.0)
        rows, marks = s.new_scalars({})
        assert rows == {0: {"loss": 3.0}, 1: {"loss": 2.0}}
        s.put_scalar("acc", 0.9, smoothing_hint=False)
        rows, marks = s.new_scalars(marks)
        assert rows == {1: {"acc": 0.9}}
        assert s.new_scalars(marks)[0] == {}
    with pytest.raises(RuntimeError, match="outside a training loop"):
        get_event_storage()


def test_median_smoothing_hint():
    with EventStorage(0) as s:
        for i, v in enumerate([5.0, 1.0, 3.0]):
            s.iter = i
            s.put_scalar("loss", v)
            s.put_scalar("lr", v, smoothing_hint=False)
        smoothed = s.latest_with_smoothing_hint(window_size=3)
        assert smoothed["loss"] == (3.0, 2) and smoothed["lr"] == (3.0, 2)


def _train_with_writers(tmp_path, max_iter=6, period=4, start_iter=0):
    writers = [
        JSONWriter(str(tmp_path / "metrics.json"), start_iter=start_iter),
        TensorboardXWriter(str(tmp_path), start_iter=start_iter),
        CommonMetricPrinter(max_iter, global_batch_size=8, live=False),
    ]
    t = CountingTrainer()
    t.register_hooks([hooks.IterationTimer(), hooks.PeriodicWriter(writers, period=period)])
    t.train(start_iter, max_iter)
    return t


def test_json_writer_writes_every_iteration(tmp_path):
    _train_with_writers(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.json").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["total_loss"] for r in rows] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6])
    assert all(r["time"] >= 0 for r in rows)


def test_json_writer_on_resume_drops_lines_past_start_iter(tmp_path):
    _train_with_writers(tmp_path)
    # a line cut short by a crash, then a resume from iteration 4
    with open(tmp_path / "metrics.json", "a") as f:
        f.write('{"iteration": 6, "total_lo')
    _train_with_writers(tmp_path, max_iter=7, start_iter=4)
    its = [
        json.loads(line)["iteration"]
        for line in (tmp_path / "metrics.json").read_text().splitlines()
    ]
    assert its == [0, 1, 2, 3, 4, 5, 6]


def test_tensorboard_events_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _train_with_writers(tmp_path)
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert {"total_loss", "loss", "time", "data_time"} <= set(acc.Tags()["scalars"])
    events = acc.Scalars("total_loss")
    assert [e.step for e in events] == [0, 1, 2, 3, 4, 5]
    assert [e.value for e in events] == pytest.approx(
        [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6], rel=1e-6
    )


def test_console_writer_plain_lines(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="libai.engine.writers"):
        _train_with_writers(tmp_path, max_iter=6, period=2)
    lines = [r.getMessage() for r in caplog.records if r.name == "libai.engine.writers"]
    assert [line.split("iteration: ")[1].split()[0] for line in lines] == ["2/6", "4/6", "6/6"]
    last = lines[-1]
    # median of the last 20 total_loss values 1, 1/2, ..., 1/6 is (1/3 + 1/4) / 2
    assert "total_loss: 0.2917" in last
    assert "samples/s:" in last and last.startswith("eta: ")


def test_periodic_writer_rejects_non_writers():
    with pytest.raises(TypeError, match="EventWriter"):
        hooks.PeriodicWriter([object()])


def test_console_writer_live_progress_bar(tmp_path):
    import io

    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    printer = CommonMetricPrinter(6, global_batch_size=8, live=True, console=console)
    t = CountingTrainer()
    t.register_hooks([hooks.IterationTimer(), hooks.PeriodicWriter([printer], period=3)])
    t.train(0, 6)
    text = buf.getvalue()
    assert "iteration: 3/6" in text and "iteration: 6/6" in text  # lines printed above the bar
    assert "6/6" in text and "━" in text  # the bar itself, completed


class NaNTrainer(TrainerBase):
    """Reports a NaN ``loss_b`` at iteration 2."""

    def run_step(self):
        bad = float("nan") if self.iter == 2 else 0.1
        self.write_metrics({"loss_a": 1.0, "loss_b": bad, "acc": float("nan")}, data_time=0.0)


def test_a_non_finite_total_loss_names_the_iteration_and_the_terms():
    log = []
    t = NaNTrainer()
    t.register_hooks([Recorder("a", log)])
    with pytest.raises(FloatingPointError) as info:
        t.train(0, 5)
    # only loss terms count: "acc" is NaN at every step and stops nothing
    assert str(info.value).startswith(
        "the loss is not finite at iteration 2: total_loss=nan (non-finite terms: loss_b=nan)"
    )
    # the failing iteration reached no after_step hook (where checkpoints are written)
    assert ("a", "after_step", 2) not in log and ("a", "after_step", 1) in log


class StatefulHook(HookBase):
    def __init__(self, value=None):
        self.value = value

    def state_dict(self):
        return {} if self.value is None else {"value": self.value}

    def load_state_dict(self, state):
        self.value = state["value"]


def test_trainer_state_holds_each_hooks_state_by_class_and_repeat(caplog):
    t = CountingTrainer()
    t.register_hooks([StatefulHook(1), Recorder("a", []), StatefulHook(2), StatefulHook()])
    state = t.state_dict()
    assert state == {"hooks": {"StatefulHook": {"value": 1}, "StatefulHook#2": {"value": 2}}}
    assert json.loads(json.dumps(state)) == state  # it goes into meta.json

    fresh = CountingTrainer()
    hooks_ = [StatefulHook(), StatefulHook(), StatefulHook()]
    fresh.register_hooks(hooks_)
    with caplog.at_level(logging.WARNING, logger="libai.engine.trainer"):
        fresh.load_state_dict({"hooks": {**state["hooks"], "GoneHook": {"x": 1}}})
    assert [h.value for h in hooks_] == [1, 2, None]
    assert "GoneHook, which this run does not have" in caplog.text
    assert HookBase().state_dict() == {}


def test_best_checkpointer_state_round_trip():
    best = hooks.BestCheckpointer(4, checkpointer=None, val_metric="Acc@1")
    best.best_metric, best.best_iter = 0.75, 7
    other = hooks.BestCheckpointer(4, checkpointer=None, val_metric="Acc@1")
    other.load_state_dict(json.loads(json.dumps(best.state_dict())))
    assert (other.best_metric, other.best_iter) == (0.75, 7)
    assert not other._improved(0.5) and other._improved(0.8)
