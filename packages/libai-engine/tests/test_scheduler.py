"""libai.scheduler: every LR curve against its closed-form formula, step by step."""

from __future__ import annotations

import math
from importlib.metadata import entry_points

import pytest
from libai.config.engine_args import engine_supplied_args
from libai.scheduler import (
    WarmupCosineAnnealingLR,
    WarmupCosineLR,
    WarmupExponentialLR,
    WarmupMultiStepLR,
    WarmupPolynomialLR,
    WarmupStepLR,
)
from libai.utils.oneflow_env import flow

BASE_LR = 0.5


def _optimizer():
    param = flow.nn.Parameter(flow.zeros(2))
    return flow.optim.SGD([param], lr=BASE_LR)


def _curve(scheduler, steps: int) -> list:
    """lr used at steps 0..steps-1 (the trainer calls scheduler.step() after each)."""
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.step()
    return lrs


def _warmup(t, w, factor, method, end_factor):
    """Factor on BASE_LR during warmup: linear from factor to the decay's value at w."""
    if method == "constant":
        return factor
    return factor + (end_factor - factor) * t / w


def _assert_curve(actual, expected):
    assert len(actual) == len(expected)
    for step, (a, e) in enumerate(zip(actual, expected)):
        assert a == pytest.approx(e, rel=1e-6, abs=1e-12), f"step {step}: {a} != {e}"


@pytest.mark.parametrize("method", ["linear", "constant"])
def test_warmup_cosine(method):
    max_iter, warmup, wf, alpha = 20, 5, 0.1, 0.05

    def decay(t):
        if t >= max_iter:  # the decay ends at alpha
            return alpha
        return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / max_iter)) + alpha

    expected = [
        BASE_LR * (_warmup(t, warmup, wf, method, decay(warmup)) if t < warmup else decay(t))
        for t in range(max_iter + 3)
    ]
    sched = WarmupCosineLR(_optimizer(), max_iter, wf, warmup, alpha=alpha, warmup_method=method)
    _assert_curve(_curve(sched, max_iter + 3), expected)
    # Past max_iter the lr stays at alpha * lr.
    assert expected[-1] == pytest.approx(BASE_LR * alpha)


def test_warmup_cosine_annealing():
    max_iter, warmup, wf, eta_min = 16, 4, 0.25, 0.01

    def lr(t):
        return eta_min + (BASE_LR - eta_min) * 0.5 * (1 + math.cos(math.pi * t / max_iter))

    expected = [
        BASE_LR * _warmup(t, warmup, wf, "linear", lr(warmup) / BASE_LR) if t < warmup else lr(t)
        for t in range(max_iter)
    ]
    sched = WarmupCosineAnnealingLR(_optimizer(), max_iter, wf, warmup, eta_min=eta_min)
    _assert_curve(_curve(sched, max_iter), expected)


@pytest.mark.parametrize("method", ["linear", "constant"])
def test_warmup_multistep(method):
    max_iter, warmup, wf, milestones, gamma = 30, 4, 0.2, [10, 20], 0.3

    def decay(t):
        return gamma ** sum(1 for m in milestones if m <= t)

    expected = [
        BASE_LR * (_warmup(t, warmup, wf, method, decay(warmup)) if t < warmup else decay(t))
        for t in range(max_iter)
    ]
    sched = WarmupMultiStepLR(
        _optimizer(),
        max_iter,
        wf,
        warmup,
        milestones=milestones,
        gamma=gamma,
        warmup_method=method,
    )
    _assert_curve(_curve(sched, max_iter), expected)
    assert expected[25] == pytest.approx(BASE_LR * 0.09)


def test_warmup_exponential():
    max_iter, warmup, wf, gamma = 15, 3, 0.5, 0.9

    expected = [
        BASE_LR * (_warmup(t, warmup, wf, "linear", gamma**warmup) if t < warmup else gamma**t)
        for t in range(max_iter)
    ]
    sched = WarmupExponentialLR(_optimizer(), max_iter, gamma, wf, warmup)
    _assert_curve(_curve(sched, max_iter), expected)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_warmup_polynomial(power):
    max_iter, warmup, wf, end = 12, 2, 0.1, 0.001

    def lr(t):
        t = min(t, max_iter)
        return (BASE_LR - end) * (1 - t / max_iter) ** power + end

    expected = [
        BASE_LR * _warmup(t, warmup, wf, "linear", lr(warmup) / BASE_LR) if t < warmup else lr(t)
        for t in range(max_iter + 2)
    ]
    sched = WarmupPolynomialLR(
        _optimizer(), max_iter, wf, warmup, end_learning_rate=end, power=power
    )
    _assert_curve(_curve(sched, max_iter + 2), expected)
    assert expected[-1] == pytest.approx(end)


def test_warmup_step():
    max_iter, warmup, wf, step_size, gamma = 20, 3, 0.1, 6, 0.5

    def decay(t):
        return gamma ** (t // step_size)

    expected = [
        BASE_LR * (_warmup(t, warmup, wf, "linear", decay(warmup)) if t < warmup else decay(t))
        for t in range(max_iter)
    ]
    sched = WarmupStepLR(_optimizer(), max_iter, wf, warmup, step_size=step_size, gamma=gamma)
    _assert_curve(_curve(sched, max_iter), expected)


def test_zero_warmup_is_the_plain_decay():
    sched = WarmupExponentialLR(_optimizer(), 10, 0.5, 0.1, 0)
    _assert_curve(_curve(sched, 5), [BASE_LR * 0.5**t for t in range(5)])


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"warmup_method must be one of \['linear', 'constant'\]"):
        WarmupCosineLR(_optimizer(), 10, 0.1, 2, warmup_method="cosine")
    with pytest.raises(ValueError, match="milestones must be increasing"):
        WarmupMultiStepLR(_optimizer(), 10, 0.1, 2, milestones=[5, 3])
    with pytest.raises(ValueError, match="warmup_iter must be >= 0"):
        WarmupCosineLR(_optimizer(), 10, 0.1, -1)


def test_state_dict_round_trip_resumes_the_curve():
    sched = WarmupCosineLR(_optimizer(), 20, 0.1, 5)
    _curve(sched, 8)
    state = sched.state_dict()
    resumed = WarmupCosineLR(_optimizer(), 20, 0.1, 5)
    resumed.load_state_dict(state)
    resumed.step()
    sched.step()
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(
        sched.optimizer.param_groups[0]["lr"]
    )


@pytest.mark.parametrize(
    "scheduler",
    [
        WarmupCosineLR,
        WarmupCosineAnnealingLR,
        WarmupMultiStepLR,
        WarmupExponentialLR,
        WarmupPolynomialLR,
        WarmupStepLR,
    ],
)
def test_engine_supplied_arguments_are_declared(scheduler):
    assert engine_supplied_args(scheduler) == {"optimizer", "max_iter", "warmup_iter"}


@pytest.mark.parametrize(
    "name",
    [
        "WarmupCosineLR",
        "WarmupCosineAnnealingLR",
        "WarmupMultiStepLR",
        "WarmupExponentialLR",
        "WarmupPolynomialLR",
        "WarmupStepLR",
    ],
)
def test_scheduler_entry_points(name):
    import libai.scheduler

    (ep,) = [ep for ep in entry_points(group="libai.schedulers") if ep.name == name]
    assert ep.load() is getattr(libai.scheduler, name)
