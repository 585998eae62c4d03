"""Run names cut to a column's width so that what tells the runs apart survives.

Run names start with what runs share (``mlp-moons-adam-lr0.01-s0 model.activation=tanh``,
``lr-a786b2c1-t5-s9997``) and end with what differs (the lr, the seed, a swept override, the
trial number). A cut in the middle hid exactly that; here the prefix every name shares is
dropped first (at a separator), then the start of what is left, keeping the end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ELLIPSIS = "…"
#: Where a shared prefix may end: after a dash, underscore, space or equals sign (not a dot:
#: ``lr0.1`` and ``lr0.01`` share ``lr0.``, which is no word).
SEPARATOR = re.compile(r"[-_ =]")


def common_prefix(names: Sequence[str]) -> str:
    """The longest prefix of every name that ends just after a separator ('' for one name)."""
    if len(names) < 2:
        return ""
    shared = names[0]
    for name in names[1:]:
        end = 0
        while end < min(len(shared), len(name)) and shared[end] == name[end]:
            end += 1
        shared = shared[:end]
    cuts = [match.end() for match in SEPARATOR.finditer(shared)]
    return shared[: cuts[-1]] if cuts else ""


def keep_tail(text: str, width: int) -> str:
    """``text``, or ``…`` and its last ``width - 1`` characters."""
    if len(text) <= width:
        return text
    return ELLIPSIS + text[len(text) - max(width - 1, 0) :] if width > 0 else ""


def distinguishing_names(names: Sequence[str], width: int) -> list[str]:
    """Each name within ``width`` characters, keeping the end: unchanged if all fit, else
    without the prefix they all share (``…`` stands for it), then cut from the start."""
    if all(len(name) <= width for name in names):
        return list(names)
    prefix = common_prefix(names)
    shortened = [
        ELLIPSIS + name[len(prefix) :] if prefix and len(name) > width else name for name in names
    ]
    return [keep_tail(name, width) if len(name) > width else name for name in shortened]
