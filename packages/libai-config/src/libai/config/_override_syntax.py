"""The tokenizer and parser of Hydra's override grammar (see :mod:`.overrides`).

The tokenizer follows the value mode of Hydra's ``OverrideLexer.g4``: at each
position the longest token wins, and on a tie the rule Hydra lists first
(FLOAT, INT, BOOL, NULL, UNQUOTED_CHAR, ID), so ``inf`` is a float,
``Infinity`` a string and ``1.2.3`` a string made of two floats. The parser is
a recursive descent over ``OverrideParser.g4`` without sweeps and functions:
an unquoted value made of one token keeps its type, several tokens are joined
into a string (surrounding whitespace dropped, ``\\,``-style escapes undone).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from omegaconf import DictConfig, ListConfig

from .errors import ConfigError

__all__ = [
    "NO_VALUE",
    "Override",
    "OverrideError",
    "OverrideKind",
    "UnknownKeyError",
    "parse_override",
    "render_value",
]


class OverrideError(ConfigError, ValueError):
    """An override that cannot be parsed or applied.

    ``override`` is the override text; ``column`` the 0-based position of a
    syntax error in it (None for errors found while applying).
    """

    def __init__(self, message: str, override: str = "", column: int | None = None) -> None:
        super().__init__(message)
        self.override = override
        self.column = column


class UnknownKeyError(OverrideError, KeyError):
    """An override names a key the config does not have (and its target does not accept).

    Also a :class:`KeyError`, which LiBai's callers catch; ``key`` is the dotted key.
    """

    def __init__(self, message: str, override: str = "", key: str = "") -> None:
        super().__init__(message, override)
        self.key = key

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class OverrideKind(str, enum.Enum):
    """What an override does; a ``str`` so ``kind == "set"`` reads naturally."""

    SET = "set"  # key=value
    ADD = "add"  # +key=value
    FORCE_ADD = "force_add"  # ++key=value
    DELETE = "delete"  # ~key, ~key=value

    def __str__(self) -> str:
        return self.value


class _NoValue:
    """Type of :data:`NO_VALUE`: a delete override written without ``=value``."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        return "NO_VALUE"


#: The ``value`` of ``~key`` (no ``=``): delete whatever the key holds.
#: Distinct from None, which ``~key=null`` means.
NO_VALUE: Any = _NoValue()


@dataclass(frozen=True)
class Override:
    """One parsed override.

    ``key`` is the dotted path (``train.dist.data_parallel_size``); ``value``
    is a plain Python value (int, float, bool, None, str, list, dict), or
    :data:`NO_VALUE` for ``~key``; ``raw`` is the text it was parsed from.
    """

    kind: OverrideKind
    key: str
    value: Any
    raw: str


# --------------------------------------------------------------------------
# Tokenizer (value mode of Hydra's OverrideLexer.g4)
# --------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # one of the kinds below
    text: str  # source text (for QUOTED: the decoded string)
    pos: int  # 0-based column in the whole override


_PUNCT = {
    "[": "LBRACKET",
    "]": "RBRACKET",
    "{": "LBRACE",
    "}": "RBRACE",
    ",": "COMMA",
    ":": "COLON",
    "=": "EQUAL",
    "(": "LPAREN",
    ")": "RPAREN",
}
_UNQUOTED_CHARS = frozenset("/-\\+.$%*@?|")  # Hydra's UNQUOTED_CHAR
_ESCAPABLE = frozenset("\\()[]{}:=, \t")  # characters Hydra lets `\` escape
_DIGITS = frozenset("0123456789")
_ID_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_ID_CHARS = _ID_START | _DIGITS
# Token kinds that may make up an unquoted primitive (joined into a string
# when there is more than one).
_PRIMITIVE_KINDS = frozenset(
    {"ID", "NULL", "INT", "FLOAT", "BOOL", "INTERP", "CHAR", "COLON", "ESC", "WS"}
)
_DICT_KEY_KINDS = _PRIMITIVE_KINDS - {"COLON", "INTERP"}
_DESCRIBE = {
    "LBRACKET": "'['",
    "RBRACKET": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "LPAREN": "'('",
    "RPAREN": "')'",
    "EOF": "the end of the override",
    "QUOTED": "a quoted string",
}


def _match_digits(s: str, i: int) -> int:
    """End of ``DIGIT ('_'? DIGIT)*`` at ``i``, or -1."""
    if i >= len(s) or s[i] not in _DIGITS:
        return -1
    j = i + 1
    while j < len(s):
        if s[j] in _DIGITS:
            j += 1
        elif s[j] == "_" and j + 1 < len(s) and s[j + 1] in _DIGITS:
            j += 2
        else:
            break
    return j


def _match_int_unsigned(s: str, i: int) -> int:
    """End of ``'0' | [1-9] ('_'? DIGIT)*`` at ``i``, or -1."""
    if i >= len(s):
        return -1
    if s[i] == "0":
        return i + 1
    if s[i] in _DIGITS:
        return _match_digits(s, i)
    return -1


def _match_point_float(s: str, i: int) -> int:
    """End of ``INT_UNSIGNED '.' | INT_UNSIGNED? '.' DIGITS`` at ``i``, or -1."""
    int_end = _match_int_unsigned(s, i)
    dot = i if int_end == -1 else int_end
    if dot >= len(s) or s[dot] != ".":
        return -1
    frac_end = _match_digits(s, dot + 1)
    if frac_end != -1:
        return frac_end
    return dot + 1 if int_end != -1 else -1


def _match_unsigned_float(s: str, i: int) -> int:
    """End of the longest POINT_FLOAT, EXPONENT_FLOAT, inf or nan at ``i``, or -1."""
    best = -1
    point_end = _match_point_float(s, i)
    for mantissa_end in (point_end, _match_int_unsigned(s, i)):
        if mantissa_end == -1 or mantissa_end >= len(s) or s[mantissa_end] not in "eE":
            continue
        j = mantissa_end + 1
        if j < len(s) and s[j] in "+-":
            j += 1
        best = max(best, _match_digits(s, j))
    best = max(best, point_end)
    if s[i : i + 3].lower() in ("inf", "nan"):
        best = max(best, i + 3)
    return best


def _match_signed(s: str, i: int, matcher: Any) -> int:
    j = i + 1 if s[i] in "+-" else i
    return matcher(s, j) if j < len(s) else -1


def _match_id(s: str, i: int) -> int:
    if s[i] not in _ID_START:
        return -1
    j = i + 1
    while j < len(s) and s[j] in _ID_CHARS:
        j += 1
    return j


def _match_word(s: str, i: int, word: str) -> int:
    return i + len(word) if s[i : i + len(word)].lower() == word else -1


def _scan_quoted(s: str, i: int, base: int, raw: str) -> tuple[str, int]:
    """Decode the quoted string opening at ``s[i]``; return (text, end).

    Hydra's rule: a run of backslashes right before the delimiting quote is
    halved; an odd run escapes the quote. Every other backslash is literal.
    """
    quote = s[i]
    out: list[str] = []
    j = i + 1
    while j < len(s):
        c = s[j]
        if c == "\\":
            k = j
            while k < len(s) and s[k] == "\\":
                k += 1
            run = k - j
            if k < len(s) and s[k] == quote:
                out.append("\\" * (run // 2))
                if run % 2:  # escaped quote: part of the string
                    out.append(quote)
                    j = k + 1
                    continue
                return "".join(out), k + 1
            out.append("\\" * run)
            j = k
        elif c == quote:
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    raise _syntax_error(raw, base + i, "unterminated quoted string (no closing " + quote + ")")


def _scan_interpolation(s: str, i: int, base: int, raw: str) -> int:
    """End of the ``${...}`` opening at ``s[i]`` (braces may nest)."""
    depth = 0
    j = i + 1
    while j < len(s):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                if j == i + 2:
                    raise _syntax_error(raw, base + i, "empty interpolation '${}'")
                return j + 1
        j += 1
    raise _syntax_error(raw, base + i, "unterminated interpolation (no closing '}')")


def _tokenize(s: str, base: int, raw: str) -> list[_Token]:
    """Split a value into tokens; ``base`` is its column in ``raw``."""
    tokens: list[_Token] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c in "'\"":
            text, end = _scan_quoted(s, i, base, raw)
            tokens.append(_Token("QUOTED", text, base + i))
            i = end
            continue
        if c in " \t":
            end = i
            while end < len(s) and s[end] in " \t":
                end += 1
            kind = "WS"
        elif c == "$" and s[i + 1 : i + 2] == "{":
            end, kind = _scan_interpolation(s, i, base, raw), "INTERP"
        elif c == "\\" and s[i + 1 : i + 2] and s[i + 1] in _ESCAPABLE:
            end, kind = i + 2, "ESC"
        elif c in _PUNCT:
            end, kind = i + 1, _PUNCT[c]
        else:
            # Longest match wins; on a tie the rule Hydra lists first wins.
            candidates = (
                ("FLOAT", _match_signed(s, i, _match_unsigned_float)),
                ("INT", _match_signed(s, i, _match_int_unsigned)),
                ("BOOL", max(_match_word(s, i, "true"), _match_word(s, i, "false"))),
                ("NULL", _match_word(s, i, "null")),
                ("CHAR", i + 1 if c in _UNQUOTED_CHARS else -1),
                ("ID", _match_id(s, i)),
            )
            kind, end = max(candidates, key=lambda kv: kv[1])
            if end == -1:
                raise _syntax_error(
                    raw,
                    base + i,
                    f"character {c!r} is not allowed in an unquoted value; "
                    "quote the value ('...' or \"...\")",
                )
        tokens.append(_Token(kind, s[i:end], base + i))
        i = end
    tokens.append(_Token("EOF", "", base + len(s)))
    return tokens


# --------------------------------------------------------------------------
# Parser (Hydra's OverrideParser.g4, without sweeps and functions)
# --------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens of one value.

    value   := element EOF
    element := list | dict | QUOTED | primitive
    list    := '[' (element (',' element)*)? ']'
    dict    := '{' (key ':' element (',' key ':' element)*)? '}'
    Whitespace is allowed around every element and punctuation mark.
    """

    def __init__(self, tokens: list[_Token], raw: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.raw = raw

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def skip_ws(self) -> None:
        while self.peek().kind == "WS":
            self.i += 1

    def expect(self, kind: str, context: str) -> _Token:
        self.skip_ws()
        if self.peek().kind != kind:
            self.unexpected(f"expected {_DESCRIBE[kind]} {context}")
        return self.advance()

    def unexpected(self, expectation: str) -> None:
        tok = self.peek()
        found = _DESCRIBE.get(tok.kind, repr(tok.text))
        if tok.kind in _PUNCT.values():
            hint = f"; to use {found} in a string, quote the value or escape it as '\\{tok.text}'"
        else:
            hint = ""
        raise _syntax_error(self.raw, tok.pos, f"{expectation}, found {found}{hint}")

    def parse_value(self) -> Any:
        self.skip_ws()
        value = self.element()
        self.skip_ws()
        tok = self.peek()
        if tok.kind == "COMMA":
            raise _syntax_error(
                self.raw,
                tok.pos,
                "choice sweeps (a,b,c) are not supported: an override sets one value; "
                "to set a string with a comma, quote it ('a,b') or escape it (a\\,b)",
            )
        if tok.kind != "EOF":
            self.unexpected("expected the end of the value")
        return value

    def element(self) -> Any:
        self.skip_ws()
        tok = self.peek()
        if tok.kind == "LBRACKET":
            return self.list_()
        if tok.kind == "LBRACE":
            return self.dict_()
        if tok.kind == "QUOTED":
            self.advance()
            self.skip_ws()
            nxt = self.peek()
            if nxt.kind in _PRIMITIVE_KINDS or nxt.kind == "QUOTED":
                raise _syntax_error(
                    self.raw,
                    nxt.pos,
                    "a quoted string cannot be joined with other text; "
                    "put the whole value inside the quotes",
                )
            return tok.text
        if tok.kind in _PRIMITIVE_KINDS:
            return self.primitive()
        self.unexpected("expected a value")
        return None  # unreachable: unexpected() raises

    def list_(self) -> list[Any]:
        self.advance()  # '['
        items: list[Any] = []
        self.skip_ws()
        if self.peek().kind == "RBRACKET":
            self.advance()
            return items
        while True:
            items.append(self.element())
            self.skip_ws()
            tok = self.peek()
            if tok.kind == "COMMA":
                self.advance()
                continue
            if tok.kind == "RBRACKET":
                self.advance()
                return items
            self.unexpected("expected ',' or ']' in a list")

    def dict_(self) -> dict[Any, Any]:
        self.advance()  # '{'
        items: dict[Any, Any] = {}
        self.skip_ws()
        if self.peek().kind == "RBRACE":
            self.advance()
            return items
        while True:
            key_tok = self.peek()
            key = self.dict_key()
            self.expect("COLON", f"after the dict key {key!r}")
            if key in items:
                raise _syntax_error(self.raw, key_tok.pos, f"duplicate dict key {key!r}")
            items[key] = self.element()
            self.skip_ws()
            tok = self.peek()
            if tok.kind == "COMMA":
                self.advance()
                self.skip_ws()
                continue
            if tok.kind == "RBRACE":
                self.advance()
                return items
            self.unexpected("expected ',' or '}' in a dict")

    def dict_key(self) -> Any:
        """A key typed like a primitive, as Hydra does (``{1: a}`` has the int key 1)."""
        self.skip_ws()
        tok = self.peek()
        if tok.kind == "QUOTED":
            self.advance()
            return tok.text
        parts = []
        while self.peek().kind in _DICT_KEY_KINDS:
            parts.append(self.advance())
        parts = _strip_ws(parts)
        if not parts:
            self.unexpected("expected a dict key")
        return _primitive_value(parts)

    def primitive(self) -> Any:
        parts = []
        while self.peek().kind in _PRIMITIVE_KINDS:
            parts.append(self.advance())
        tok = self.peek()
        if tok.kind == "LPAREN":
            words = _strip_ws(parts)
            if len(words) == 1 and words[0].kind == "ID":
                raise _syntax_error(
                    self.raw,
                    words[0].pos,
                    f"functions such as {words[0].text}(...) are not supported "
                    "(no sweeps, choice, range, interval, glob or extend_list); "
                    "write the value itself",
                )
        if tok.kind == "QUOTED":
            raise _syntax_error(
                self.raw,
                tok.pos,
                "a quoted string cannot be joined with other text; "
                "put the whole value inside the quotes",
            )
        return _primitive_value(_strip_ws(parts))


def _strip_ws(parts: list[_Token]) -> list[_Token]:
    start, end = 0, len(parts)
    while start < end and parts[start].kind == "WS":
        start += 1
    while end > start and parts[end - 1].kind == "WS":
        end -= 1
    return parts[start:end]


def _unescape(tok: _Token) -> str:
    return tok.text[1] if tok.kind == "ESC" else tok.text


def _primitive_value(parts: list[_Token]) -> Any:
    """A single token keeps its type (``10`` is an int); several make a string."""
    if len(parts) != 1:
        return "".join(_unescape(t) for t in parts)
    tok = parts[0]
    if tok.kind == "INT":
        return int(tok.text)
    if tok.kind == "FLOAT":
        return float(tok.text)
    if tok.kind == "BOOL":
        return tok.text.lower() == "true"
    if tok.kind == "NULL":
        return None
    return _unescape(tok)


# --------------------------------------------------------------------------
# Keys and whole overrides
# --------------------------------------------------------------------------


def _syntax_error(raw: str, column: int, message: str) -> OverrideError:
    caret = " " * column + "^"
    return OverrideError(
        f"invalid override {raw!r}: {message} (column {column + 1})\n  {raw}\n  {caret}",
        override=raw,
        column=column,
    )


def _check_key(raw: str, start: int, key: str) -> None:
    """Validate a dotted key: segments are identifiers (``$`` allowed) or indices."""
    if not key:
        raise _syntax_error(raw, start, "missing key before '='")
    pos = start
    for segment in key.split("."):
        if not segment:
            raise _syntax_error(raw, pos, "empty key segment (two dots, or a leading/trailing dot)")
        if all(c in _DIGITS for c in segment):
            if len(segment) > 1 and segment[0] == "0":
                raise _syntax_error(raw, pos, f"list index {segment!r} has a leading zero")
        else:
            for offset, c in enumerate(segment):
                ok = c in _ID_START or c == "$" or (offset > 0 and c in _DIGITS)
                if ok:
                    continue
                col = pos + offset
                if c == "@":
                    why = "package overrides (group@package) are not supported"
                elif c == "/":
                    why = "config group overrides (group/option) are not supported: libai configs have no defaults list"
                elif c in " \t":
                    why = "whitespace is not allowed in a key"
                else:
                    why = f"character {c!r} is not allowed in a key"
                raise _syntax_error(raw, col, why)
        pos += len(segment) + 1


def parse_override(text: str) -> Override:
    """Parse one override (``key=value``, ``+key=value``, ``++key=value``, ``~key``).

    Returns an :class:`Override` with a plain Python value.
    Raises :class:`OverrideError` for a syntax error; its message quotes the
    override and points a caret at the column.
    """
    if not isinstance(text, str):
        raise OverrideError(
            f"an override must be a string like 'key=value', got {type(text).__name__} {text!r}"
        )
    if text.startswith("++"):
        kind, start = OverrideKind.FORCE_ADD, 2
    elif text.startswith("+"):
        kind, start = OverrideKind.ADD, 1
    elif text.startswith("~"):
        kind, start = OverrideKind.DELETE, 1
    else:
        kind, start = OverrideKind.SET, 0
    eq = text.find("=", start)
    key = text[start:] if eq == -1 else text[start:eq]
    _check_key(text, start, key)
    if eq == -1:
        if kind is OverrideKind.DELETE:
            return Override(kind, key, NO_VALUE, text)
        prefix = text[:start]
        raise _syntax_error(
            text,
            len(text),
            f"expected '=' after the key (write {prefix}{key}=VALUE"
            + (f", or ~{key} to delete it)" if kind is OverrideKind.SET else ")"),
        )
    value_text = text[eq + 1 :]
    if not value_text.strip(" \t"):
        value: Any = ""  # as Hydra: `key=` sets the empty string
    else:
        value = _Parser(_tokenize(value_text, eq + 1, text), text).parse_value()
    return Override(kind, key, value, text)


# --------------------------------------------------------------------------
# Rendering values back into override syntax
# --------------------------------------------------------------------------


def _quote(s: str) -> str:
    """Single-quote ``s`` so that :func:`parse_override` reads it back exactly."""
    out = ["'"]
    i = 0
    while i < len(s):
        if s[i] == "\\":
            j = i
            while j < len(s) and s[j] == "\\":
                j += 1
            run = j - i
            # Only backslashes before a quote (or the closing quote) are escaped.
            out.append("\\" * (run * 2 if j == len(s) or s[j] == "'" else run))
            i = j
        elif s[i] == "'":
            out.append("\\'")
            i += 1
        else:
            out.append(s[i])
            i += 1
    out.append("'")
    return "".join(out)


def render_value(value: Any) -> str:
    """Render a plain value (or DictConfig/ListConfig) as override text.

    ``parse_override("k=" + render_value(v)).value == v`` for ints, floats,
    bools, None, strings, and lists/dicts of them. Strings are always quoted.
    """
    if isinstance(value, (DictConfig, ListConfig)):
        from omegaconf import OmegaConf

        value = OmegaConf.to_container(value, resolve=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 'inf', '-inf', 'nan', '1e-05' all parse back
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if isinstance(k, str):
                # A word stays bare; anything that would read back as another
                # type ("1", "true", "inf") or needs escaping is quoted.
                plain = _match_id(k, 0) == len(k) if k else False
                plain = plain and k.lower() not in ("true", "false", "null", "inf", "nan")
                key = k if plain else _quote(k)
            else:
                key = render_value(k)
            items.append(f"{key}: {render_value(v)}")
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot render {type(value).__name__} {value!r} as an override value")
