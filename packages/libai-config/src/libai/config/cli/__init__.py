"""Command line of libai-config: ``list``, ``plugins``, ``check``, ``show``, ``diff``.

Run as ``python -m libai.config COMMAND`` (or the ``libai-config`` script);
``libai-engine`` offers the same commands and adds ``run`` through
``extra_commands``. None of these commands imports OneFlow.

Exit codes: 0 success, 2 a user error (bad config, failed check, unknown
name) with the message on stderr and no traceback, 1 anything unexpected.

This module imports only the standard library: rich, importlib-metadata,
pluggy and omegaconf are imported inside the command handlers, so ``--help``
stays fast.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, argument setup and handler.

    ``handler(args)`` returns the exit code. It may raise :class:`UserError`
    (or a registry/config error) for a problem the user can fix: ``main``
    turns those into exit code 2 and a message without a traceback.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


class UserError(Exception):
    """A problem the user can fix; shown as ``error: <message>`` with exit code 2."""


def _builtin_commands() -> list[Command]:
    from libai.config.cli import _commands

    return _commands.COMMANDS


def _is_user_error(exc: BaseException) -> bool:
    # Checked by class name and module so this file needs no imports of
    # registry/check (which pull in heavier modules) just to classify errors.
    if isinstance(exc, UserError):
        return True
    user_errors = {
        ("libai.config.registry", "RegistryError"),
        ("libai.config.check", "ConfigCheckError"),
        ("libai.config.errors", "ConfigError"),
    }
    return any((cls.__module__, cls.__name__) in user_errors for cls in type(exc).__mro__)


def build_parser(prog: str, commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The argument parser with every command as a subcommand."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="LiBai configs and registry: list components and plugins, "
        "check, show and diff experiment configs.",
    )
    parser.add_argument(
        "-p",
        dest="plugin_options",
        action="append",
        default=[],
        metavar="no:NAME",
        help="disable the plugin NAME (entry-point or distribution name) for this run; "
        "repeatable. The environment variable LIBAI_DISABLE_PLUGINS=a,b does the same.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        sub_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub_parser)
        sub_parser.set_defaults(_handler=command.handler)
    return parser


def _disable_plugins(parser: argparse.ArgumentParser, options: list[str]) -> None:
    names = []
    for option in options:
        if not option.startswith("no:") or not option[3:]:
            parser.error(f"-p takes no:NAME to disable a plugin, got {option!r}")
        names.append(option[3:])
    if names:
        from libai.config import plugins

        plugins.disable_plugins(names)


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "python -m libai.config",
    extra_commands: Sequence[Command] = (),
) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return the exit code."""
    commands = [*_builtin_commands(), *extra_commands]
    parser = build_parser(prog, commands)
    try:
        args, extra = parser.parse_known_args(list(argv) if argv is not None else None)
        # argparse stops filling `overrides` at the first option, so the natural order
        # `show CFG --format yaml a.b=1` leaves `a.b=1` over: those are overrides too.
        if extra and (not hasattr(args, "overrides") or any(e.startswith("-") for e in extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if extra:
            args.overrides = [*(args.overrides or []), *extra]
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        _disable_plugins(parser, args.plugin_options)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return int(args._handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0  # output piped into `head`: not an error
    except Exception as exc:
        if _is_user_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(
            f"{prog} {args.command}: unexpected {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1


__all__ = ["Command", "UserError", "build_parser", "main"]
