"""The built-in commands: ``list``, ``plugins``, ``check``, ``show``, ``diff``.

Handlers import what they need when they run (registry, omegaconf, rich), so
that building the parser -- and ``--help`` -- costs only argparse.
"""

from __future__ import annotations

import argparse
import tempfile
import traceback
from pathlib import Path
from typing import Any

from libai.config.cli import Command, UserError
from libai.config.cli._output import print_json, print_table, print_text

# ----------------------------------------------------------------- config loading


def _where_in(exc: BaseException, path: Path) -> str:
    """`` (at file:line)`` of the innermost frame inside the user's config file, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    target = str(path.resolve())
    for frame in reversed(frames):
        if str(Path(frame.filename).resolve()) == target:
            return f" (at {frame.filename}:{frame.lineno})"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {exc.filename}:{exc.lineno})"
    return ""


def load_config(path: str, overrides: list[str]) -> Any:
    """``LazyConfig.load(path)`` then ``LazyConfig.apply_overrides``; errors become UserError."""
    config_path = Path(path)
    if not config_path.is_file():
        raise UserError(f"config file {path} does not exist")
    from libai.config import LazyConfig

    try:
        cfg = LazyConfig.load(str(config_path))
    except Exception as exc:
        raise UserError(
            f"cannot load {path}{_where_in(exc, config_path)}: {type(exc).__name__}: {exc}"
        ) from exc
    if overrides:
        try:
            result = LazyConfig.apply_overrides(cfg, list(overrides))
        except Exception as exc:
            raise UserError(f"cannot apply overrides to {path}: {exc}") from exc
        cfg = cfg if result is None else result
    return cfg


def config_to_yaml(cfg: Any) -> str:
    """The YAML that ``LazyConfig.save`` writes for ``cfg`` (what ``run`` would record)."""
    from libai.config import LazyConfig

    with tempfile.TemporaryDirectory(prefix="libai-show-") as tmp:
        out = Path(tmp) / "config.yaml"
        try:
            LazyConfig.save(cfg, str(out))
        except Exception as exc:
            raise UserError(f"cannot write the config as YAML: {exc}") from exc
        return out.read_text(encoding="utf-8")


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config_file", metavar="CFG", help="experiment config (.py or .yaml)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="overrides in Hydra's grammar: a.b=1, +new.key=2, ~drop.key",
    )


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


# ----------------------------------------------------------------------------- list


def _list_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind", nargs="?", metavar="KIND", help="one group: models, optimizers, schedulers, ..."
    )
    parser.add_argument("--pattern", help="only names matching this wildcard, e.g. 'bert*'")
    _add_json(parser)


def _list(args: argparse.Namespace) -> int:
    from libai.config.registry import get_registry

    registry = get_registry()
    entries = registry.list(args.kind, pattern=args.pattern)
    conflicted = {(e.group, e.name) for claims in registry.conflicts() for e in claims}
    rows = [
        {
            "group": e.group,
            "name": e.name,
            "reference": e.qualified_reference if (e.group, e.name) in conflicted else e.reference,
            "target": e.value,
            "distribution": e.dist,
            "version": e.version,
            "conflict": (e.group, e.name) in conflicted,
        }
        for e in entries
    ]
    if args.json:
        print_json(rows)
        return 0
    title = f"{args.kind or 'all groups'}: {len(rows)} entries"
    print_table(
        title,
        ["group", "name", "target", "distribution"],
        [
            (
                r["group"],
                r["reference"] if r["conflict"] else r["name"],
                r["target"],
                r["distribution"],
            )
            for r in rows
        ],
    )
    if conflicted:
        print_text(
            "names claimed by two distributions are shown qualified; "
            "use that form in configs (e.g. models:acme/bert)"
        )
    return 0


# -------------------------------------------------------------------------- plugins


def _plugins_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="import_all",
        action="store_true",
        help="also import every entry's module to find broken ones "
        "(may import heavy libraries such as OneFlow)",
    )
    _add_json(parser)


def _first_line(text: str | None) -> str | None:
    return None if not text else text.strip().splitlines()[0]


def plugin_rows(import_all: bool = False) -> list[dict[str, Any]]:
    """One row per distribution that contributes a plugin module or registry entries."""
    from libai.config.plugins import get_plugin_manager
    from libai.config.registry import get_registry

    manager = get_plugin_manager()
    registry = get_registry()  # runs libai_register: a failing hook marks its plugin failed
    rows: dict[str, dict[str, Any]] = {}

    def row(label: str, version: str | None) -> dict[str, Any]:
        return rows.setdefault(
            label,
            {
                "distribution": label,
                "version": version,
                "plugin": None,
                "entry_points": [],
                "status": "lazy",
                "error": None,
            },
        )

    for info in manager.infos:
        r = row(info.label, info.version)
        r["plugin"] = f"{info.name} = {info.value}"
        r["status"] = info.status
        r["error"] = info.error
    for entry in registry.list():
        label = entry.dist or "<code>"
        r = row(label, entry.version)
        r["entry_points"].append(f"{entry.group}:{entry.name} = {entry.value}")
        if import_all:
            entry.try_load()  # a failure is kept on entry.failed, reported below
        if entry.failed is not None and r["status"] != "failed":
            r["status"] = "failed"
            r["error"] = str(entry.failed)
        elif entry.loaded and r["status"] == "lazy":
            r["status"] = "loaded"
    return sorted(
        rows.values(), key=lambda r: (r["distribution"] != "libai-config", r["distribution"])
    )


def _plugins(args: argparse.Namespace) -> int:
    from libai.config.registry import get_registry

    rows = plugin_rows(args.import_all)
    conflicts = [
        {
            "reference": claims[0].reference,
            "distributions": [e.dist for e in claims],
            "use": [e.qualified_reference for e in claims],
        }
        for claims in get_registry().conflicts()
    ]
    if args.json:
        print_json({"plugins": rows, "conflicts": conflicts})
        return 0
    print_table(
        f"{len(rows)} distributions",
        ["distribution", "version", "entry points", "status", "error"],
        [
            (
                r["distribution"],
                r["version"],
                "\n".join(([r["plugin"]] if r["plugin"] else []) + r["entry_points"]),
                r["status"],
                _first_line(r["error"]),
            )
            for r in rows
        ],
    )
    for c in conflicts:
        print_text(
            f"conflict: {c['reference']} is claimed by {', '.join(c['distributions'])}; "
            f"name one: {' or '.join(c['use'])}"
        )
    return 0


# ---------------------------------------------------------------------------- check


def _check_args(parser: argparse.ArgumentParser) -> None:
    _add_config_args(parser)
    _add_json(parser)


def _check(args: argparse.Namespace) -> int:
    import os

    from libai.config.check import check_config, iter_calls

    # Resolving a target imports its module, which may be OneFlow's: keep its
    # CUDA-driver warnings (glog) out of the report, unless the user set a level.
    os.environ.setdefault("GLOG_minloglevel", "2")

    cfg = load_config(args.config_file, args.overrides)
    problems = check_config(cfg)
    calls = sum(1 for _ in iter_calls(cfg))
    if args.json:
        print_json(
            {
                "config": args.config_file,
                "ok": not problems,
                "calls": calls,
                "problems": [p.to_dict() for p in problems],
            }
        )
    elif problems:
        count = len(problems)
        print_text(f"{args.config_file}: {count} problem{'s' * (count != 1)}")
        for problem in problems:
            print_text(f"  - {problem}")
    else:
        print_text(f"{args.config_file}: OK, {calls} calls resolved and checked")
    return 2 if problems else 0


# ----------------------------------------------------------------------------- show


def _show_args(parser: argparse.ArgumentParser) -> None:
    _add_config_args(parser)
    parser.add_argument(
        "--format", choices=("yaml", "py"), default="yaml", help="YAML (default) or Python"
    )
    parser.add_argument(
        "--provenance",
        action="store_true",
        help="for every key, where its value was last set: file:line, the command-line "
        "override, or (with --defaults) the target's default",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="with --provenance: also list the arguments each LazyCall leaves to its "
        "target's default (resolves the targets, which may import OneFlow)",
    )
    _add_json(parser)


def _show_provenance(args: argparse.Namespace, cfg: Any) -> int:
    from libai.config.errors import TargetError
    from libai.config.provenance import config_provenance

    try:
        rows = config_provenance(cfg, args.config_file, args.overrides, defaults=args.defaults)
    except TargetError as exc:
        raise UserError(f"cannot list the targets' defaults: {exc}") from exc
    if args.json:
        print_json([row.to_dict() for row in rows])
        return 0
    width = max((len(row.key) for row in rows), default=0)
    lines = []
    for row in rows:
        value = row.to_dict()["value"]
        lines.append(f"{row.key.ljust(width)}  {value!r}  # {row.origin}")
    print_text("\n".join(lines))
    return 0


def _show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config_file, args.overrides)
    if args.defaults and not args.provenance:
        raise UserError("--defaults goes with --provenance")
    if args.provenance:
        return _show_provenance(args, cfg)
    if args.json:
        import yaml

        print_json(yaml.safe_load(config_to_yaml(cfg)))
    elif args.format == "py":
        from libai.config import LazyConfig

        print_text(LazyConfig.to_py(cfg))
    else:
        print_text(config_to_yaml(cfg))
    return 0


# ----------------------------------------------------------------------------- diff


def config_diff(a: Any, b: Any) -> list[dict[str, Any]]:
    """``LazyConfig.diff(a, b)`` as ``{"key", "change", "a", "b"}`` rows, sorted by key.

    The one diff: the CLI renders the library's, so both report ``1`` against
    ``1.0`` and a changed list item (``optim.betas.1``) alike. Values are
    JSON-ready (callables as their dotted path).
    """
    from libai.config.diff import diff, jsonable, path_sort_key

    result = diff(a, b)
    rows = [
        {"key": k, "change": "removed", "a": jsonable(v), "b": None}
        for k, v in result.removed.items()
    ]
    rows += [
        {"key": k, "change": "added", "a": None, "b": jsonable(v)} for k, v in result.added.items()
    ]
    rows += [
        {"key": k, "change": "changed", "a": jsonable(old), "b": jsonable(new)}
        for k, (old, new) in result.changed.items()
    ]
    rows.sort(key=lambda row: path_sort_key(row["key"]))
    return rows


def _diff_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config_a", metavar="A", help="first config (.py or .yaml)")
    parser.add_argument("config_b", metavar="B", help="second config (.py or .yaml)")
    _add_json(parser)


def _shown(row: dict[str, Any], side: str) -> str:
    """A diff value as the library prints it (``1`` and ``1.0`` stay apart); blank when absent."""
    missing = (row["change"] == "added" and side == "a") or (
        row["change"] == "removed" and side == "b"
    )
    return "" if missing else repr(row[side])


def _diff(args: argparse.Namespace) -> int:
    rows = config_diff(load_config(args.config_a, []), load_config(args.config_b, []))
    if args.json:
        print_json(rows)
    elif not rows:
        print_text(f"{args.config_a} and {args.config_b}: no differences")
    else:
        print_table(
            f"{len(rows)} keys differ",
            ["key", "change", args.config_a, args.config_b],
            [(r["key"], r["change"], _shown(r, "a"), _shown(r, "b")) for r in rows],
        )
    return 0


COMMANDS = [
    Command("list", "list registered components: name, target, distribution", _list_args, _list),
    Command(
        "plugins",
        "list plugin distributions: version, entry points, loaded/failed with the error",
        _plugins_args,
        _plugins,
    ),
    Command(
        "check",
        "resolve every target and check every call's arguments (exit 2 on problems)",
        _check_args,
        _check,
    ),
    Command("show", "print the final config (after overrides)", _show_args, _show),
    Command("diff", "list the keys that differ between two configs", _diff_args, _diff),
]
