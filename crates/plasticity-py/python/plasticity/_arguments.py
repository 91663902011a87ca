"""Keyword checks in Python's terms: a wrong type is a ``TypeError`` and a wrong value a
``ValueError``, each naming the function and the keyword as Python spells them; option
values also accept the command line's spellings (``"full-tape"``, ``"auto"``)."""

from __future__ import annotations

import numbers
from typing import Any, Dict, List, Optional, Sequence


def integer(function: str, name: str, value: Any, minimum: Optional[int] = None) -> int:
    """``value`` as an ``int`` (not a ``bool``), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{function}(): {name} must be an int, got {type(value).__name__} {value!r}"
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{function}(): {name} must be at least {minimum}, got {value}")
    return int(value)


def real(function: str, name: str, value: Any, minimum: Optional[float] = None) -> float:
    """``value`` as a finite ``float`` (an int is accepted), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{function}(): {name} must be a number, got {type(value).__name__} {value!r}"
        )
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{function}(): {name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{function}(): {name} must be at least {minimum}, got {value}")
    return value


def text(function: str, name: str, value: Any) -> str:
    """``value`` as a ``str``."""
    if not isinstance(value, str):
        raise TypeError(
            f"{function}(): {name} must be a str, got {type(value).__name__} {value!r}"
        )
    return value


def choice(
    function: str,
    name: str,
    value: Any,
    choices: Sequence[str],
    aliases: Optional[Dict[str, Optional[str]]] = None,
) -> Optional[str]:
    """One of ``choices`` (``-`` and ``_`` alike, any case), or what ``aliases`` maps the
    value to (``None``: the library's default)."""
    given = text(function, name, value)
    key = given.strip().lower()
    for spelling, meaning in (aliases or {}).items():
        if key == spelling:
            return meaning
    for option in choices:
        if key.replace("-", "_") == option.replace("-", "_"):
            return option
    accepted = ", ".join(repr(c) for c in list(choices) + list((aliases or {}).keys()))
    raise ValueError(f"{function}(): {name} must be one of {accepted}, got {given!r}")


def terms(function: str, name: str, value: Any) -> str:
    """Term names as the comma-separated text the library reads: a ``str`` as it is, or
    a sequence of ``str`` (``["x*y", "y^2*w"]``) joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise TypeError(
        f"{function}(): {name} must be a str such as \"x*y,y^2*w\" or a list of term names, "
        f"got {type(value).__name__} {value!r}"
    )


def integers(function: str, name: str, value: Any, minimum: int = 1) -> List[int]:
    """A sequence of ``int``, each at least ``minimum``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{function}(): {name} must be a sequence of int, got {type(value).__name__} {value!r}"
        )
    return [integer(function, f"{name}[{i}]", v, minimum) for i, v in enumerate(value)]


class Default:
    """The sentinel of a keyword whose default is the library's (shown as ``default``
    in signatures)."""

    def __repr__(self) -> str:
        return "default"
