"""The console, with every password redacted: one place for everything nnexp prints.

``python -m nnexp`` writes through many hands: its own summaries and errors, Hydra's and Optuna's
loggers, MLflow's warnings, tqdm's progress bars, Python's warnings. Redacting each call site
misses the next one (a sweep's ``re-run it:`` line printed a password), so :func:`redacted_console`
replaces ``sys.stdout`` and ``sys.stderr`` for the whole command with :class:`RedactingStream`,
which passes each line through :func:`nnexp.redact.redact` before it reaches the terminal.

Text is held until a line ends (``\\n`` or a progress bar's ``\\r``) or the program flushes, so
a URI written in pieces is still redacted whole. Loggers and progress bars created during the
command find the wrapped streams (they look ``sys.stderr`` up when they are created).
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from nnexp.redact import redact

#: A partial line longer than this is written out even without a line end (bounded memory).
MAX_PENDING = 65536


class RedactingStream(io.TextIOBase):
    """A text stream that redacts each line before writing it to ``target``."""

    def __init__(self, target: TextIO, survive_closed_reader: bool = False):
        super().__init__()
        self.target = target
        self._pending = ""
        # stderr: a reader that went away (`2>&1 | head`) silences it instead of raising into
        # whatever was printing (a sweep's confirm line ended the sweep, its parent FAILED);
        # stdout keeps raising, so `--help | head -3` still ends quietly with exit code 141
        self.survive_closed_reader = survive_closed_reader

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._pending += text
        cut = max(self._pending.rfind("\n"), self._pending.rfind("\r"))
        if cut >= 0:
            ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
            self._write(redact(ready))
        if len(self._pending) > MAX_PENDING:
            self._emit_pending()
        return len(text)

    def flush(self) -> None:
        self._emit_pending()
        self._guarded(self.target.flush)

    def _emit_pending(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self._write(redact(pending))

    def _write(self, text: str) -> None:
        self._guarded(lambda: self.target.write(text))

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except BrokenPipeError:
            if not self.survive_closed_reader:
                raise
            from nnexp.progress import silence

            silence(self.target)

    # the rest is the target's: tqdm and the CLI ask isatty(); subprocesses take fileno()
    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.target, "errors", None)

    @property
    def buffer(self) -> Any:
        """No raw byte access past the redaction: bytes written here are decoded and redacted."""
        return _RedactingBuffer(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


class _RedactingBuffer:
    def __init__(self, stream: RedactingStream):
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(bytes(data).decode(self._stream.encoding or "utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._stream.flush()


@contextlib.contextmanager
def redacted_console() -> Iterator[None]:
    """``sys.stdout``/``sys.stderr`` redacted for the duration (nested uses are no-ops)."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr, survive_closed_reader=True)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved
