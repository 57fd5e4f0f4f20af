"""The exceptions of :mod:`libai.config`, each naming where the problem is.

Every error a user can meet while loading, saving, instantiating or finding a
config says *what* is wrong, *where* (``file:line`` or a config path such as
``train.scheduler``) and, when it can, what would be right. The original
exception is always chained (``raise ... from err``) so nothing is hidden.

Load errors keep the type of the error they wrap: a syntax error in a config
file raises :class:`ConfigSyntaxError`, which is both a :class:`ConfigLoadError`
and a :class:`SyntaxError`, so ``except SyntaxError`` keeps working.
"""

from __future__ import annotations

from typing import Any


class ConfigError(Exception):
    """Base class of every error raised by :mod:`libai.config`."""


class ConfigLoadError(ConfigError):
    """A config file could not be loaded.

    ``filename`` and ``lineno`` say where (``lineno`` is None when unknown);
    ``import_chain`` lists the ``file:line`` of each relative import that led
    to the failing file, outermost last.
    """

    def __init__(self, message: str, filename: str = "", lineno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.import_chain: list[str] = []

    @property
    def location(self) -> str:
        """``file:line`` (or just ``file``) of the failure."""
        if self.lineno is None:
            return self.filename
        return f"{self.filename}:{self.lineno}"

    def __str__(self) -> str:
        text = self.message
        for where in self.import_chain:
            text += f"\n  imported from {where}"
        return text


class ConfigSyntaxError(ConfigLoadError, SyntaxError):
    """A Python config file that is not valid Python."""


class ConfigNameError(ConfigLoadError, NameError):
    """A Python config file that uses an undefined name."""


class ConfigImportError(ConfigLoadError, ImportError):
    """An import in a config file failed (including a missing relative import)."""


class ConfigAttributeError(ConfigLoadError, AttributeError):
    """A config file read an attribute that does not exist."""


class ConfigTypeError(ConfigLoadError, TypeError):
    """A config file raised TypeError (for example positional args to LazyCall)."""


class ConfigValueError(ConfigLoadError, ValueError):
    """A config file raised ValueError, or a YAML file is malformed or unsafe."""


class ConfigKeyError(ConfigLoadError, KeyError):
    """A config file raised KeyError."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return ConfigLoadError.__str__(self)


# Most specific first: ModuleNotFoundError is an ImportError, and so on.
_LOAD_ERROR_TYPES: tuple[tuple[type[BaseException], type[ConfigLoadError]], ...] = (
    (SyntaxError, ConfigSyntaxError),
    (NameError, ConfigNameError),
    (ImportError, ConfigImportError),
    (AttributeError, ConfigAttributeError),
    (TypeError, ConfigTypeError),
    (ValueError, ConfigValueError),
    (KeyError, ConfigKeyError),
)


def load_error_for(
    original: BaseException, message: str, filename: str, lineno: int | None
) -> ConfigLoadError:
    """Build the :class:`ConfigLoadError` subclass matching ``original``'s type."""
    for base, cls in _LOAD_ERROR_TYPES:
        if isinstance(original, base):
            return cls(message, filename, lineno)
    return ConfigLoadError(message, filename, lineno)


class ConfigSaveError(ConfigError, ValueError):
    """A value that YAML cannot represent; ``path`` is its config key path."""

    def __init__(self, message: str, path: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.path = path
        self.value = value


class InstantiationError(ConfigError):
    """Building an object from a config node failed.

    ``path`` is the node's config path (``train.scheduler``), ``target`` the
    target as written in the config; the original exception is ``__cause__``.
    """

    def __init__(self, message: str, path: str = "", target: Any = None) -> None:
        super().__init__(message)
        self.path = path
        self.target = target


class TargetError(ConfigError, LookupError, ImportError):
    """A target string (registry reference or import path) that names no usable object.

    The one error type of :func:`libai.config.targets.resolve_target`, used by
    ``instantiate``, ``check``, the engine and the CLI. It is both a
    :class:`LookupError` (the name is unknown) and an :class:`ImportError`
    (a module on the path failed to import), so callers written against either
    keep working. ``target`` is the string as written; a failing import is
    chained as ``__cause__``.
    """

    def __init__(self, message: str, target: Any = None) -> None:
        super().__init__(message)
        self.target = target

    def __str__(self) -> str:  # ImportError would show only ``msg``
        return str(self.args[0]) if self.args else ""


class TargetResolutionError(InstantiationError, TargetError):
    """``instantiate`` met a ``_target_`` that does not resolve; ``path`` says where."""

    def __init__(self, message: str, path: str = "", target: Any = None) -> None:
        InstantiationError.__init__(self, message, path, target)


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    """``get_config`` found the relative path in none of the config directories.

    ``searched`` holds ``(label, directory)`` for every directory looked in.
    """

    def __init__(self, message: str, rel_path: str = "", searched: Any = ()) -> None:
        super().__init__(message)
        self.rel_path = rel_path
        self.searched = list(searched)

    def __str__(self) -> str:  # OSError's __str__ would add errno formatting
        return str(self.args[0]) if self.args else ""
