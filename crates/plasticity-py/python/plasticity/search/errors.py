"""The one error type of a search: a user mistake (a search file, an experiment, a
missing command), printed as ``FILE:LINE: key `KEY`: message`` without a traceback."""

from __future__ import annotations

import pathlib
import re
from typing import Optional, Sequence


class SearchError(Exception):
    """A mistake the user can fix; `str()` names the file, the line and the key
    where they are known."""

    def __init__(
        self,
        message: str,
        path: Optional[pathlib.Path] = None,
        key: Optional[str] = None,
        line: Optional[int] = None,
    ) -> None:
        self.message = message
        self.path = path
        self.key = key
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path) + (f":{self.line}" if self.line else "") + ": "
        if self.key is not None:
            where += f"key `{self.key}`: "
        return where + self.message


def locate_key(text: str, keys: Sequence[str]) -> Optional[int]:
    """The 1-based line of the nested key `keys` (e.g. ``["parameters",
    "fit.learning_rate", "low"]``) in the TOML `text`, found by scanning for each
    key in turn after the line of the one before (a header ``[a."b"]`` or a line
    ``b = …``); the deepest one found, or None. Best effort: it locates the keys of
    the files this package documents, not every TOML spelling."""
    lines = text.splitlines()
    start, found = 0, None
    for key in keys:
        for number in range(start, len(lines)):
            if _mentions(lines[number], key):
                found, start = number + 1, number
                break
        else:
            return found
    return found


_COMPONENT = re.compile(r'"[^"]*"|\'[^\']*\'|[^.\[\]\s]+')


def _mentions(line: str, key: str) -> bool:
    """Whether `line` is a table header with `key` as one of its components, or
    assigns `key` (at its start or inside an inline table)."""
    stripped = line.strip()
    if stripped.startswith("["):
        header = stripped.split("#", 1)[0]
        return any(c.strip("\"'") == key for c in _COMPONENT.findall(header))
    spelled = "|".join(re.escape(s) for s in (key, f'"{key}"', f"'{key}'"))
    return re.search(r"(^\s*|[{,]\s*)(" + spelled + r")\s*=", line) is not None
