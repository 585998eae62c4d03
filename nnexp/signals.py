"""Stop cleanly on Ctrl-C and SIGTERM, so an interrupted run ends KILLED instead of RUNNING.

An exception raised from a signal handler can land anywhere, including in the middle of an
MLflow write that holds the SQLite database's write lock; the run could then not be ended.
So the first SIGINT or SIGTERM only *requests* a stop, and the request is honoured at safe
points: the end of each epoch (:class:`StopOnSignal`, a training callback), between sweep
trials, and when the command finishes. A second signal stops at once.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any


class Terminated(KeyboardInterrupt):
    """Raised when the process was asked to stop by SIGTERM."""


_requested: int | None = None


def _request_stop(signum: int, frame: Any) -> None:
    global _requested
    if _requested is not None:  # second signal: the user insists
        raise_if_stop_requested()
    _requested = signum


def install_signal_handlers() -> None:
    """Route SIGINT and SIGTERM to a stop request (main thread only; a no-op elsewhere)."""
    global _requested
    _requested = None
    with contextlib.suppress(ValueError):  # ValueError: not the main thread
        signal.signal(signal.SIGTERM, _request_stop)
        signal.signal(signal.SIGINT, _request_stop)


def stop_requested() -> bool:
    return _requested is not None


def raise_if_stop_requested() -> None:
    """Raise :class:`Terminated` (SIGTERM) or KeyboardInterrupt (SIGINT) if a stop was requested."""
    if _requested == signal.SIGTERM:
        raise Terminated("received SIGTERM")
    if _requested is not None:
        raise KeyboardInterrupt("received SIGINT")


class StopOnSignal:
    """Training callback: honour a pending stop request at the end of an epoch."""

    def on_epoch_end(self, record: Any) -> None:
        raise_if_stop_requested()
