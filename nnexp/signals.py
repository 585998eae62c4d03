"""Turn SIGTERM into an exception, so a terminated run ends KILLED instead of RUNNING forever.

SIGINT already raises KeyboardInterrupt; :class:`Terminated` subclasses it, so every handler
that treats Ctrl-C as "the user stopped this" treats SIGTERM the same way.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"received signal {signal.Signals(signum).name}")


def install_signal_handlers() -> None:
    """Make SIGTERM raise :class:`Terminated` (main thread only; a no-op elsewhere)."""
    with contextlib.suppress(ValueError):  # ValueError: not the main thread
        signal.signal(signal.SIGTERM, _raise_terminated)
