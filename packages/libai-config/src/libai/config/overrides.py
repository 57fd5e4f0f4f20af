"""Command-line overrides in Hydra's grammar, parsed by hand and applied to a config.

``apply_overrides(cfg, ["train.train_iter=200", "+train.new=[1, 2]", "~model.x"])``
edits a config the way ``python train.py key=value`` does with Hydra:

=====================  ===================================================
``key=value``          set an existing key (dicts are merged, lists replaced)
``+key=value``         add a key that does not exist yet (parents are created)
``++key=value``        add the key, or set it when it exists
``~key``               delete a key; ``~key=value`` only if it holds ``value``
=====================  ===================================================

Values follow Hydra's override grammar: ``10``, ``1_000``, ``-3``, ``1e-4``,
``.5``, ``inf``, ``nan``, ``true``/``False``, ``null``, ``'quoted'`` and
``"quoted"`` strings (always strings: ``'1'`` is ``"1"``), unquoted strings
such as ``./out/run-1``, ``optimizers:SGD`` or ``${train.lr}``, lists
``[1, 'a', [2]]`` and dicts ``{a: 1, b: [1, 2]}``.

Why a hand-written parser: the grammar is small (about a dozen token kinds and
four rules), and hydra-core would bring an ANTLR runtime and pin
``omegaconf<2.4``, while ``libai-config`` must install alone on any Python.
The tokenizer (in ``_override_syntax``) follows Hydra's ``OverrideLexer.g4``
(longest match, ties go to the rule listed first), the parser its
``OverrideParser.g4``. Not
supported, each with a clear error: choice sweeps (``a,b``), functions
(``choice()``, ``range()``, ``interval()``, ``glob()``, ``extend_list()``...),
and config-group/package keys (``db=mysql`` on a defaults list,
``group@pkg``). Two small extensions: interpolations may nest
(``${a.${b}}``) and dict keys may be quoted (``{'a b': 1}``).
"""

from __future__ import annotations

import difflib
from typing import Any, Iterator, Sequence, Union

from omegaconf import DictConfig, ListConfig, open_dict
from omegaconf.errors import OmegaConfBaseException

from ._nearest import nearest
from ._override_syntax import (
    NO_VALUE,
    Override,
    OverrideError,
    OverrideKind,
    UnknownKeyError,
    parse_override,
    render_value,
)

__all__ = [
    "NO_VALUE",
    "Override",
    "OverrideError",
    "OverrideKind",
    "UnknownKeyError",
    "apply_overrides",
    "parse_override",
    "render_value",
]


# --------------------------------------------------------------------------
# Applying overrides to a config
# --------------------------------------------------------------------------

_Container = Union[DictConfig, ListConfig]


def _is_plain_node(node: Any) -> bool:
    """A container we can walk into: not None, not '???', not an interpolation."""
    return (
        isinstance(node, (DictConfig, ListConfig))
        and not node._is_none()
        and not node._is_missing()
        and not node._is_interpolation()
    )


def _child_key(node: _Container, segment: str) -> Any:
    """The key of ``segment`` in ``node`` (str, int or list index), or None."""
    is_index = segment.isascii() and segment.isdigit()
    if isinstance(node, ListConfig):
        if is_index and int(segment) < len(node):
            return int(segment)
        return None
    keys = list(node.keys())
    if segment in keys:
        return segment
    if is_index and int(segment) in keys:
        return int(segment)
    return None


def _plain(node: Any) -> Any:
    """The unresolved Python value of a config node."""
    if isinstance(node, (DictConfig, ListConfig)):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(node, resolve=False)
    return node._value() if hasattr(node, "_value") else node


def _iter_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key path of the dicts in ``node`` (list items are not listed)."""
    if not isinstance(node, DictConfig) or not _is_plain_node(node):
        return
    for key in node.keys():
        path = f"{prefix}{key}"
        yield path
        yield from _iter_paths(node._get_node(key), path + ".")


def _close_paths(key: str, paths: list[str]) -> list[str]:
    """Paths close to ``key``: the best difflib matches, then same-named leaves."""
    scored = []
    for path in paths:
        matcher = difflib.SequenceMatcher(None, key, path)
        if matcher.real_quick_ratio() >= 0.7 and matcher.quick_ratio() >= 0.7:
            scored.append((matcher.ratio(), path))
    scored = [sp for sp in scored if sp[0] >= 0.7]
    scored.sort(key=lambda sp: -sp[0])
    # Keep only the matches about as good as the best one.
    matches = [p for r, p in scored if r >= scored[0][0] - 0.1][:3] if scored else []
    leaf = key.rsplit(".", 1)[-1]
    for path in paths:  # `lr=0.1` most likely means `optim.lr`
        if path.rsplit(".", 1)[-1] == leaf and path not in matches and len(matches) < 5:
            matches.append(path)
    return matches


def _deepest_parent(cfg: DictConfig, key: str) -> tuple[str, Any]:
    """The deepest existing container on the way to ``key``, and its path."""
    node: Any = cfg
    where = ""
    for segment in key.split(".")[:-1]:
        child = _child_key(node, segment) if _is_plain_node(node) else None
        if child is None:
            break
        node = node._get_node(child)
        where = f"{where}.{segment}" if where else segment
    return where, node


def _nearest_message(cfg: DictConfig, key: str) -> str:
    """'; did you mean a.b?' or, when nothing is close, the keys that do exist."""
    where, node = _deepest_parent(cfg, key)
    if isinstance(node, ListConfig) and where == key.rsplit(".", 1)[0]:
        return f"; {where!r} is a list of length {len(node)}"
    matches = _close_paths(key, list(_iter_paths(cfg)))
    if matches:
        listed = matches[0] if len(matches) == 1 else ", ".join(matches[:-1]) + " or " + matches[-1]
        return f"; did you mean {listed}?"
    if not isinstance(node, DictConfig) or not _is_plain_node(node):
        return ""
    names = [str(k) for k in node.keys()]
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return f"; keys under {where!r}: {shown}" if where else f"; top-level keys: {shown}"


def _unknown_key(cfg: DictConfig, override: Override, hint: str = "") -> UnknownKeyError:
    return UnknownKeyError(
        f"unknown key {override.key!r} in override {override.raw!r}"
        f"{_nearest_message(cfg, override.key)}{hint}",
        override=override.raw,
        key=override.key,
    )


def _walk_to_parent(cfg: DictConfig, override: Override, create: bool) -> _Container:
    """The container holding the override's last key segment.

    With ``create`` (``+``/``++``), missing parent dicts are created.
    """
    node: _Container = cfg
    segments = override.key.split(".")[:-1]
    for depth, segment in enumerate(segments):
        path = ".".join(segments[: depth + 1])
        key = _child_key(node, segment)
        if key is None:
            if not create or isinstance(node, ListConfig):
                hint = (
                    f" (to add it, write +{override.raw})"
                    if override.kind is OverrideKind.SET
                    else ""
                )
                raise _unknown_key(cfg, override, hint)
            with open_dict(node):
                node[segment] = {}
            key = segment
        child = node._get_node(key)
        if not _is_plain_node(child):
            value = _plain(child)
            if isinstance(value, str) and value.startswith("${"):
                what = f"the interpolation {value!r}"
            elif _is_tuple_config(child):
                what = f"the tuple {tuple(value)!r}, which cannot change item by item"
            else:
                what = f"{value!r} ({type(value).__name__})"
            raise OverrideError(
                f"cannot apply override {override.raw!r}: {path!r} is {what}"
                f"{'' if _is_tuple_config(child) else ', not a dict or list'}; "
                f"set {path} itself instead",
                override=override.raw,
            )
        node = child
    return node


def _merge_dict(node: DictConfig, value: dict) -> None:
    """Hydra merges a dict value into an existing dict instead of replacing it."""
    for k, v in value.items():
        key = _child_key(node, str(k))
        if key is not None and isinstance(v, dict) and _is_plain_node(node._get_node(key)):
            child = node._get_node(key)
            if isinstance(child, DictConfig):
                _merge_dict(child, v)
                continue
        node[k if key is None else key] = v


def _is_tuple_config(node: Any) -> bool:
    """omegaconf 2.4 keeps tuples as ``TupleConfig`` where objects are allowed."""
    return type(node).__name__ == "TupleConfig"


def _assign(parent: _Container, key: Any, value: Any) -> None:
    current = parent._get_node(key)
    if isinstance(value, dict) and isinstance(current, DictConfig) and _is_plain_node(current):
        _merge_dict(current, value)
    elif isinstance(value, list) and _is_tuple_config(current):
        parent[key] = tuple(value)  # a list over a tuple keeps the tuple type
    else:
        parent[key] = value


def _apply_one(cfg: DictConfig, override: Override) -> None:
    kind = override.kind
    create = kind in (OverrideKind.ADD, OverrideKind.FORCE_ADD)
    parent = _walk_to_parent(cfg, override, create)
    leaf = override.key.rsplit(".", 1)[-1]
    key = _child_key(parent, leaf)

    if kind is OverrideKind.SET:
        if key is None:
            if isinstance(parent, ListConfig):
                raise _unknown_key(cfg, override)
            _set_unset_argument(cfg, parent, leaf, override)
            return
        _assign(parent, key, override.value)
    elif kind is OverrideKind.ADD:
        if key is not None:
            current = _plain(parent._get_node(key))
            raise OverrideError(
                f"key {override.key!r} already exists (value {current!r}) in override "
                f"{override.raw!r}; use +{override.raw} to override it "
                f"or {override.raw[1:]} to set it",
                override=override.raw,
            )
        if isinstance(parent, ListConfig):
            raise OverrideError(
                f"cannot add {override.key!r} in override {override.raw!r}: the parent is a list "
                f"of length {len(parent)}; set the whole list instead",
                override=override.raw,
            )
        with open_dict(parent):
            parent[leaf] = override.value
    elif kind is OverrideKind.FORCE_ADD:
        if key is not None:
            _assign(parent, key, override.value)
        elif isinstance(parent, ListConfig):
            raise OverrideError(
                f"cannot add {override.key!r} in override {override.raw!r}: the parent is a list "
                f"of length {len(parent)}; set the whole list instead",
                override=override.raw,
            )
        else:
            with open_dict(parent):
                parent[leaf] = override.value
    else:  # DELETE
        if key is None:
            raise _unknown_key(cfg, override)
        if override.value is not NO_VALUE:
            current = _plain(parent._get_node(key))
            if not _same(current, override.value):
                raise OverrideError(
                    f"cannot delete {override.key!r} in override {override.raw!r}: "
                    f"its value is {current!r}, not {override.value!r}",
                    override=override.raw,
                )
        if isinstance(parent, ListConfig):
            del parent[key]
        else:
            with open_dict(parent):
                del parent[key]


def _set_unset_argument(cfg: DictConfig, node: DictConfig, name: str, override: Override) -> None:
    """Set ``name`` on a LazyCall ``node`` that does not spell it out, if its target names it.

    LiBai users write ``dataloader.test.0.num_workers=0`` although the config
    leaves ``num_workers`` to the builder's default. The node's target is
    resolved only here, for a key that is absent, so configs whose overrides
    all name existing keys never import their targets (nor OneFlow).
    """
    hint = f" (to add it, write +{override.raw})"
    target = node._get_node("_target_") if "_target_" in node else None
    if target is None:
        if _is_engine_setting(override.key):
            with open_dict(node):
                node[name] = override.value
            return
        raise _unknown_key(cfg, override, hint)
    spec = target._value() if hasattr(target, "_value") else target
    if not isinstance(spec, str) and not callable(spec):
        raise _unknown_key(cfg, override, hint)  # a nested LazyCall: its result is unknown
    from .errors import TargetError
    from .signatures import named_arguments
    from .targets import resolve_target

    try:
        params = named_arguments(resolve_target(spec))
    except TargetError as err:
        raise UnknownKeyError(
            f"unknown key {override.key!r} in override {override.raw!r}: the config does not "
            f"set it and its target {spec!r} cannot be resolved to read its signature: {err}",
            override=override.raw,
            key=override.key,
        ) from err
    if params is None or name not in params:
        near = nearest(name, params or {})
        parent = override.key.rsplit(".", 1)[0]
        where = f"{spec}" if isinstance(spec, str) else getattr(spec, "__qualname__", repr(spec))
        if near:
            listed = ", ".join(f"{parent}.{n}" for n in near)
            extra = f"; {where} accepts {listed}"
        else:
            extra = f"; {where} names no argument {name!r}"
        raise _unknown_key(cfg, override, extra + hint)
    with open_dict(node):
        node[name] = override.value


def _is_engine_setting(key: str) -> bool:
    """True when ``key`` (``train.dist.device_type``) is a setting of the shipped ``common/train.py``.

    A LiBai user's own copy of ``configs/common/train.py`` may predate a setting
    the engine reads; overriding it is then not an "unknown key" either. The
    shipped defaults are read (a few milliseconds) only for a key that is absent.
    """
    if not key.startswith("train."):
        return False
    from pathlib import Path

    from omegaconf import OmegaConf

    from .loader import load

    defaults = load(Path(__file__).parent / "configs" / "common" / "train.py", "train")
    return OmegaConf.select(defaults, key[len("train.") :], default=NO_VALUE) is not NO_VALUE


def _same(a: Any, b: Any) -> bool:
    """Equality that tells 1 from True and 1.0 from 1 (override values are typed)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def apply_overrides(cfg: DictConfig, overrides: Sequence[Union[str, Override]]) -> DictConfig:
    """Apply overrides in order to ``cfg`` (mutated in place) and return it.

    Every override is parsed before any is applied, so a syntax error leaves
    ``cfg`` untouched; an override that cannot be applied raises and the ones
    before it stay applied.

    Raises:
        OverrideError: a syntax error; a key that does not exist (with the
            nearest existing key paths); ``+key`` on an existing key; ``~key``
            on a missing key or with a value that does not match; a change
            refused by the config (read-only, struct, wrong type).
    """
    if isinstance(overrides, str):
        raise OverrideError(
            f"apply_overrides expects a list of overrides, got the string {overrides!r}; "
            f"write [{overrides!r}]"
        )
    if not isinstance(cfg, DictConfig):
        raise OverrideError(
            f"apply_overrides expects a DictConfig, got {type(cfg).__name__}; "
            "wrap it with OmegaConf.create(...)"
        )
    parsed = [o if isinstance(o, Override) else parse_override(o) for o in overrides]
    for override in parsed:
        try:
            _apply_one(cfg, override)
        except OmegaConfBaseException as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise OverrideError(
                f"cannot apply override {override.raw!r} to {override.key!r}: {reason}",
                override=override.raw,
            ) from err
    return cfg
