"""The common shape of a Cargo.toml, read without tomllib.

Importing tomllib (with the `typing` and `datetime` it pulls in) costs more than
the rest of a one-service scan, and nearly every Cargo.toml, .cargo/config.toml
and rust-toolchain.toml uses a small part of TOML: table headers, `[[bin]]`,
dotted keys, strings without escapes, decimal integers, booleans, arrays and
one-line inline tables.

`quick_loads` reads exactly that and returns None for anything else (escapes,
multi-line strings, floats, dates, a table header that reopens or extends a
table in a way only the full rules decide, duplicate keys...), which then goes
to tomllib, which also owns every error message. So whatever it accepts is
valid TOML with the value tomllib gives; tests/parsing/test_toml_quick.py
checks that differentially.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

__all__ = ["quick_loads"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_INTEGER = re.compile(r"[+-]?([0-9]+)")
_SPACES = re.compile(r"[ \t]*")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # not allowed in strings or comments
_VALUE_END = frozenset(" \t\r\n,]}#")
_PLAIN_PAIR = re.compile(
    r'([A-Za-z0-9_-]+)[ \t]*=[ \t]*(?:"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"|(true|false))[ \t]*(?=[\r\n#]|\Z)'
)


class _Decline(Exception):
    """Not the common shape: let tomllib decide."""


def quick_loads(text: str) -> dict[str, Any] | None:
    try:
        return _Reader(text).document()
    except (_Decline, RecursionError):
        return None


def _encodable(text: str) -> bool:
    """False for lone surrogates (undecodable bytes); a regex for them costs a ms to compile."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.root: dict[str, Any] = {}
        # How each table came to be, by id: TOML lets a header define a table that an
        # earlier header only implied, and dotted keys extend tables they created.
        self.defined: set[int] = set()
        self.implied: set[int] = set()
        self.dotted: set[int] = set()
        self.arrays_of_tables: set[int] = set()  # (every tracked object stays in the result, so ids stay unique)

    # -- lines -------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        table = self.root
        while self.i < len(self.s):
            self._spaces()
            c = self._peek()
            if c == "[":
                table = self._header()
            elif c not in ("#", "\n", "\r", "") and not self._plain_pair(table):
                self._keyval(table, self.dotted)
            self._line_end()
        return self.root

    def _plain_pair(self, table: dict[str, Any]) -> bool:
        """`key = "text"` or `key = true`, most lines of a manifest, in one match."""
        m = _PLAIN_PAIR.match(self.s, self.i)
        if m is None:
            return False
        key, text, word = m.groups()
        if key in table or (text is not None and not (text.isascii() or _encodable(text))):
            raise _Decline
        table[key] = text if text is not None else word == "true"
        self.i = m.end()
        return True

    def _line_end(self) -> None:
        self._spaces()
        if self._peek() == "#":
            self._comment()
        if self.s.startswith("\r\n", self.i):
            self.i += 2
        elif self._peek() == "\n":
            self.i += 1
        elif self.i < len(self.s):
            raise _Decline

    def _comment(self) -> None:
        end = self.s.find("\n", self.i)
        end = len(self.s) if end < 0 else end
        if self.s[end - 1] == "\r":
            end -= 1  # the \r of a CRLF ends the line, not the comment
        if _CONTROL.search(self.s, self.i + 1, end):
            raise _Decline
        self.i = end

    # -- tables ------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        many = self.s.startswith("[[", self.i)
        self.i += 2 if many else 1
        self._spaces()
        keys = self._key()
        self._expect("]]" if many else "]")
        parent = self.root
        for k in keys[:-1]:
            parent = self._descend(parent, k)
        last = keys[-1]
        found = parent.get(last)
        if many:
            return self._append_table(parent, last, found)
        if found is None:
            return self._new_table(parent, last, self.defined)
        if type(found) is dict and id(found) in self.implied and id(found) not in self.defined:
            self.defined.add(id(found))
            return found
        raise _Decline

    def _descend(self, parent: dict[str, Any], key: str) -> dict[str, Any]:
        found = parent.get(key)
        if found is None:
            return self._new_table(parent, key, self.implied)
        if type(found) is dict and (id(found) in self.defined or id(found) in self.implied):
            return found
        raise _Decline  # through an array of tables, a dotted or inline table: the full rules

    def _append_table(self, parent: dict[str, Any], key: str, found: Any) -> dict[str, Any]:
        if found is None:
            found = parent[key] = []
            self._track(found, self.arrays_of_tables)
        elif type(found) is not list or id(found) not in self.arrays_of_tables:
            raise _Decline
        table: dict[str, Any] = {}
        found.append(table)
        self._track(table, self.defined)
        return table

    def _new_table(self, parent: dict[str, Any], key: str, kind: set[int]) -> dict[str, Any]:
        table: dict[str, Any] = {}
        parent[key] = table
        self._track(table, kind)
        return table

    def _track(self, obj: Any, kind: set[int]) -> None:
        kind.add(id(obj))

    # -- key/value pairs -----------------------------------------------------------

    def _keyval(self, table: dict[str, Any], extendable: set[int]) -> None:
        keys = self._key()
        self._expect("=")
        self._spaces()
        value = self._value()
        for k in keys[:-1]:
            found = table.get(k)
            if found is None:
                table = self._new_table(table, k, extendable)
            elif type(found) is dict and id(found) in extendable:
                table = found
            else:
                raise _Decline
        if keys[-1] in table:
            raise _Decline  # a duplicate key: tomllib words the error
        table[keys[-1]] = value

    def _key(self) -> list[str]:
        keys = [self._simple_key()]
        self._spaces()
        while self._peek() == ".":
            self.i += 1
            self._spaces()
            keys.append(self._simple_key())
            self._spaces()
        return keys

    def _simple_key(self) -> str:
        c = self._peek()
        if c == '"' or c == "'":
            return self._string(c)
        m = _BARE.match(self.s, self.i)
        if m is None:
            raise _Decline
        self.i = m.end()
        return m.group()

    # -- values ------------------------------------------------------------------

    def _value(self) -> Any:
        c = self._peek()
        if c == '"' or c == "'":
            return self._string(c)
        if c == "[":
            return self._array()
        if c == "{":
            return self._inline_table()
        for word, value in (("true", True), ("false", False)):
            if self.s.startswith(word, self.i):
                self.i += len(word)
                self._value_ends()
                return value
        return self._integer()

    def _string(self, quote: str) -> str:
        if self.s.startswith(quote * 3, self.i):
            raise _Decline  # multi-line strings
        end = self.s.find(quote, self.i + 1)
        if end < 0:
            raise _Decline
        body = self.s[self.i + 1 : end]
        if "\\" in body and quote == '"':
            raise _Decline  # escapes
        if _CONTROL.search(body) or not (body.isascii() or _encodable(body)):
            raise _Decline
        self.i = end + 1
        return body

    def _integer(self) -> int:
        m = _INTEGER.match(self.s, self.i)
        digits = m.group(1) if m else ""
        if not digits or len(digits) > 18 or (len(digits) > 1 and digits[0] == "0"):
            raise _Decline  # floats, dates, hex, underscores and leading zeros go to tomllib
        self.i = m.end()  # type: ignore[union-attr]
        self._value_ends()
        return int(m.group())  # type: ignore[union-attr]

    def _value_ends(self) -> None:
        if self.i < len(self.s) and self.s[self.i] not in _VALUE_END:
            raise _Decline

    def _array(self) -> list[Any]:
        self.i += 1
        out: list[Any] = []
        while True:
            self._blank()
            if self._peek() == "]":
                self.i += 1
                return out
            out.append(self._value())
            self._blank()
            if self._peek() == ",":
                self.i += 1
            elif self._peek() != "]":
                raise _Decline

    def _blank(self) -> None:
        """Whitespace, newlines and comments, as allowed between array elements."""
        while True:
            self._spaces()
            c = self._peek()
            if c == "#":
                self._comment()
            elif c == "\n":
                self.i += 1
            elif self.s.startswith("\r\n", self.i):
                self.i += 2
            else:
                return

    def _inline_table(self) -> dict[str, Any]:
        self.i += 1
        table: dict[str, Any] = {}
        own: set[int] = set()  # tables made by dotted keys inside this inline table
        self._spaces()
        if self._peek() == "}":
            self.i += 1
            return table
        while True:
            self._spaces()
            self._keyval(table, own)
            self._spaces()
            c = self._peek()
            self.i += 1
            if c == "}":
                return table
            if c != ",":
                raise _Decline  # newlines, comments or a trailing comma inside { }

    # -- characters ----------------------------------------------------------------

    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _spaces(self) -> None:
        if self.s[self.i : self.i + 1] in (" ", "\t"):  # usually not: skip the regex call
            self.i = _SPACES.match(self.s, self.i).end()  # type: ignore[union-attr]

    def _expect(self, token: str) -> None:
        self._spaces()
        if not self.s.startswith(token, self.i):
            raise _Decline
        self.i += len(token)
