"""Resolve before run: find every problem of a config before anything is built.

:func:`check_config` walks a whole config (dicts, lists, nested ``LazyCall``
nodes), resolves every ``_target_`` and checks each call's keyword arguments
against the target's signature. It reports, each with its config path:

- a target that cannot be resolved (unknown registry name with the nearest
  names in that group, ambiguous name, broken plugin, bad import path);
- a target that is not callable;
- an unknown argument, with the nearest valid names;
- a missing required argument (unless the engine supplies it: targets declare
  those with :func:`libai.config.engine_args.engine_supplied`);
- a value left as ``???`` (omegaconf's mandatory missing value);
- a value that clearly does not fit its parameter (``lr='abc'``), see
  :mod:`libai.config._value_types`;
- a key of a model's ``cfg=`` dict that the model does not declare it reads
  (:func:`libai.config.cfg_keys.reads_cfg`), with the nearest declared names.

``**kwargs`` in a signature accepts any name. Targets decorated with LiBai's
``configurable`` accept either ``cfg=`` (checked against ``from_config``, whose
unclaimed arguments go on to ``__init__``) or explicit ``__init__`` arguments.
``_recursive_=False`` stops the walk, as it stops ``instantiate``.

:func:`validate` raises :class:`ConfigCheckError` listing every problem at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from libai.config._nearest import nearest
from libai.config._value_types import expected_kinds, type_hints, value_mismatch
from libai.config.cfg_keys import declared_cfg_keys
from libai.config.engine_args import engine_supplied_args
from libai.config.errors import TargetError
from libai.config.signatures import accepts_any_keyword, keyword_parameters, signature_of
from libai.config.targets import resolve_target

TARGET_KEY = "_target_"
RECURSIVE_KEY = "_recursive_"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where, what kind, and what would be right.

    ``kind`` is one of ``unresolved``, ``not-callable``, ``unknown-argument``,
    ``missing-argument``, ``missing-value``, ``wrong-type`` (a value that
    clearly does not fit the parameter), ``unknown-cfg-key`` (a key of LiBai's
    ``cfg=`` dict that the model does not declare it reads).
    """

    path: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form (``path``, ``kind``, ``message``)."""
        return {"path": self.path, "kind": self.kind, "message": self.message}


class ConfigCheckError(ValueError):
    """A config that would fail to build; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"config check found {count} problem{'s' * (count != 1)}:\n{lines}")


def _is_meta(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("_") and key.endswith("_") and len(key) > 2


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _is_dict_config(node: Any) -> bool:
    # omegaconf is imported only when configs are around; a plain dict walks too.
    return type(node).__name__ == "DictConfig" and hasattr(node, "items_ex")


def _items(node: Any) -> list[tuple[Any, Any]]:
    """Children of a mapping node, without resolving interpolations (they may not resolve)."""
    if _is_dict_config(node):
        return list(node.items_ex(resolve=False))
    return list(node.items())


def _is_mapping(node: Any) -> bool:
    return _is_dict_config(node) or isinstance(node, Mapping)


def _is_sequence(node: Any) -> bool:
    if type(node).__name__ == "ListConfig":
        return True
    return isinstance(node, (list, tuple))


def iter_calls(cfg: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(config path, node)`` for every node with a ``_target_``, depth first.

    Children of a node with ``_recursive_=False`` are not visited.
    """
    if _is_mapping(cfg):
        items = _items(cfg)
        is_call = any(key == TARGET_KEY for key, _ in items)
        if is_call:
            yield path, cfg
            if dict(items).get(RECURSIVE_KEY, True) is False:
                return
        for key, value in items:
            if not _is_meta(key):
                yield from iter_calls(value, _join(path, key))
    elif _is_sequence(cfg):
        for index, value in enumerate(cfg):
            yield from iter_calls(value, _join(path, index))


def describe_target(target: Any) -> str:
    """``module.QualName`` of a callable, for messages."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return repr(target)


def _required(params: dict[str, inspect.Parameter]) -> list[str]:
    return [name for name, p in params.items() if p.default is p.empty]


def _engine_args(target: Any) -> frozenset[str]:
    declared = engine_supplied_args(target)
    init = getattr(target, "__init__", None) if inspect.isclass(target) else None
    return declared | (engine_supplied_args(init) if init is not None else frozenset())


def _check_arguments(path: str, target: Any, given: list[str]) -> list[Problem]:
    sig = signature_of(target)
    if sig is None:
        return []
    name = describe_target(target)
    params = keyword_parameters(sig)
    accepts_any = accepts_any_keyword(sig)
    engine = _engine_args(target)
    required = _required(params)

    from_config = getattr(target, "from_config", None)
    if callable(from_config) and "cfg" in given:
        # LiBai's `configurable`: cfg= goes through from_config, whose
        # arguments are taken from the call; anything else goes to __init__.
        fc_sig = signature_of(from_config)
        if fc_sig is not None:
            fc_params = keyword_parameters(fc_sig)
            params = {**params, **fc_params}
            accepts_any = accepts_any or accepts_any_keyword(fc_sig)
            required = _required(fc_params)

    problems = []
    if not accepts_any:
        valid = sorted(n for n in params if n not in ("self", "cls"))
        for key in given:
            if key in params:
                continue
            near = nearest(key, valid)
            hint = (
                f"; did you mean {', '.join(near)}?"
                if near
                else f"; it accepts: {', '.join(valid) or 'no arguments'}"
            )
            problems.append(
                Problem(path, "unknown-argument", f"unknown argument {key!r} for {name}{hint}")
            )
    for param in required:
        if param in given or param in engine or param in ("self", "cls"):
            continue
        problems.append(
            Problem(
                path,
                "missing-argument",
                f"missing required argument {param!r} for {name}; set {_join(path, param)}",
            )
        )
    return problems


def _missing_values(path: str, node: Any) -> list[Problem]:
    if not _is_dict_config(node):
        return []
    from omegaconf import OmegaConf

    return [
        Problem(
            _join(path, key),
            "missing-value",
            f"value is missing ('???'); set it, e.g. `{_join(path, key)}=...` as an override",
        )
        for key, _ in _items(node)
        if not _is_meta(key) and OmegaConf.is_missing(node, key)
    ]


def check_call(path: str, node: Any) -> list[Problem]:
    """Problems of one ``_target_`` node (not of its children)."""
    items = dict(_items(node))
    target = items[TARGET_KEY]
    try:
        obj = resolve_target(target)
    except TargetError as exc:
        return [Problem(path, "unresolved", f"target {target!r}: {exc}")]
    if not callable(obj):
        return [
            Problem(
                path,
                "not-callable",
                f"target {describe_target(target)} is not callable "
                f"(it is a {type(obj).__name__}); _target_ must name a class or function",
            )
        ]
    given = [key for key in items if not _is_meta(key)]
    return (
        _check_arguments(path, obj, given)
        + _check_values(path, obj, items)
        + _check_cfg_keys(path, obj, items.get("cfg"))
        + _missing_values(path, node)
    )


def _check_values(path: str, target: Any, items: dict[Any, Any]) -> list[Problem]:
    """Scalars that clearly do not fit the parameter's annotation or default's type."""
    sig = signature_of(target)
    if sig is None:
        return []
    params = keyword_parameters(sig)
    hints: dict | None = None
    problems = []
    for key, value in items.items():
        if _is_meta(key) or key not in params or _is_mapping(value) or _is_sequence(value):
            continue
        if hints is None:
            hints = type_hints(target)
        kinds = expected_kinds(target, params[key], hints)
        mismatch = value_mismatch(value, kinds)
        if mismatch is not None:
            problems.append(Problem(_join(path, key), "wrong-type", mismatch))
    return problems


def _check_cfg_keys(path: str, target: Any, cfg: Any) -> list[Problem]:
    """Keys of LiBai's ``cfg=`` dict that the target does not declare it reads."""
    if cfg is None or not _is_mapping(cfg) or any(k == TARGET_KEY for k, _ in _items(cfg)):
        return []
    declared = declared_cfg_keys(target)
    if declared is None:
        return []
    name = describe_target(target)
    problems = []
    for key, _ in _items(cfg):
        if key in declared:
            continue
        near = nearest(str(key), declared)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        problems.append(
            Problem(
                _join(_join(path, "cfg"), key),
                "unknown-cfg-key",
                f"{name} reads no cfg key {key!r}{hint} (it would be ignored)",
            )
        )
    return problems


def check_config(cfg: Any) -> list[Problem]:
    """Every problem of ``cfg`` (a config tree or one node), in walk order; [] when it is fine."""
    problems: list[Problem] = []
    for path, node in iter_calls(cfg):
        problems.extend(check_call(path, node))
    return problems


def validate(cfg: Any) -> None:
    """Check ``cfg`` and raise if anything is wrong.

    :raises ConfigCheckError: with every problem (``.problems``), each with its path.
    """
    problems = check_config(cfg)
    if problems:
        raise ConfigCheckError(problems)


__all__ = [
    "ConfigCheckError",
    "Problem",
    "check_call",
    "check_config",
    "describe_target",
    "iter_calls",
    "resolve_target",
    "validate",
]
