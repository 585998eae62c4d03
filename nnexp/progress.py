"""What a person or a log file sees while nnexp works.

On a terminal (stdout and stderr both TTYs): a tqdm bar on stderr, and a short line saying what
is being loaded before the first epoch (MLflow's start-up takes seconds). Anywhere else (CI,
``nohup``, ``| tee``): plain lines on stdout, one every ~10% of a run's epochs and one per
completed sweep trial, so a log file shows progress without carriage returns.

The fit loop itself never prints: :class:`EpochProgress` is a training callback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: A run prints a plain line every ``total / PLAIN_LINES`` epochs (and at its last epoch).
PLAIN_LINES = 10


def interactive() -> bool:
    """Whether a person watches a terminal: both stdout and stderr are TTYs (not piped, not
    redirected). ``| tee log`` is not: its lines belong in the log, not a redrawn bar."""
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def emit(line: str) -> None:
    """Print a progress line to stdout now. A reader that went away (``| head``) silences the
    rest of the output instead of stopping the training: the run is still recorded."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        silence_stdout()


def status(message: str) -> None:
    """On a terminal only: say what is being loaded (stderr, one line)."""
    if interactive():
        print(f"nnexp: {message}", file=sys.stderr, flush=True)


def silence_stdout() -> None:
    """Point stdout at /dev/null, so a closed pipe raises no more errors (even at exit)."""
    silence(sys.stdout)


def silence(stream: Any) -> None:
    """Point ``stream``'s file descriptor at /dev/null (a reader that went away)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class EpochProgress:
    """``on_epoch_end`` advances a tqdm bar (terminal) or prints a plain line every ~10% (else).

    ``enabled=False`` shows nothing; ``None`` picks the bar or the lines by :func:`interactive`;
    ``plain=True`` forces the lines.
    """

    def __init__(
        self,
        total_epochs: int,
        description: str = "train",
        enabled: bool | None = None,
        plain: bool | None = None,
    ):
        self.enabled = True if enabled is None else enabled
        self.plain = (not interactive()) if plain is None else plain
        self.total = total_epochs
        self.description = description
        self.every = max(1, round(total_epochs / PLAIN_LINES))
        self._bar: Any = None
        self._last: dict[str, Any] | None = None
        self._printed_epoch = 0

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self.plain:
            self._last = record
            epoch = int(record["epoch"])
            if epoch % self.every == 0 or epoch == self.total:
                self._line(record)
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total,
                desc=self.description,
                unit="epoch",
                leave=False,
                mininterval=0.2,
                dynamic_ncols=True,
            )
        self._bar.update(1)
        if self._bar.n == self.total or self._bar.n % 10 == 0:
            self._bar.set_postfix(
                train=f"{record['train_loss']:.4g}", val=f"{record['val_loss']:.4g}", refresh=False
            )

    def on_train_end(self, history: Any) -> None:
        last = self._last
        if (
            self.enabled
            and self.plain
            and last is not None
            and last["epoch"] != self._printed_epoch
        ):
            self._line(last)  # stopped early: its last epoch
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, record: dict[str, Any]) -> None:
        epoch = int(record["epoch"])
        self._printed_epoch = epoch
        values = "  ".join(
            f"{key} {record[key]:.4f}"
            for key in ("train_loss", "val_loss")
            if isinstance(record.get(key), int | float)
        )
        emit(f"{self.description}: epoch {epoch}/{self.total}  {values}".rstrip())
