"""Pictures drawn in a helper process while this one writes to MLflow: learning curves, sweep plots.

Why: drawing the PNG takes 0.15-0.25 s of CPU, about as long as all of a run's MLflow writes
(metrics, tags, artifacts, the pyfunc model), and the machine has a second core. The helper is
a plain ``python -m nnexp.plot_helper`` child (not ``multiprocessing``, whose children re-import
the caller's ``__main__`` script): it imports matplotlib on the other core while the first run
trains, then draws each run's curves while this process writes to MLflow. One helper serves
every run of the process (a multirun, a sweep with ``log_plots``); it exits when this process
closes the pipe or dies, and ignores Ctrl-C (this process turns that into a stop request).

``warm_up(*modules)`` starts the helper (idempotent, cheap) and has it import ``modules``
ahead of need; ``draw(...)`` sends a learning-curve drawing and returns a function that waits for
the file; ``call(target, *args)`` runs any ``"module:function"`` there (a sweep's plots).
Whatever goes wrong with the helper (it cannot start, it died, it is stuck, the work failed
there) the work is done in this process instead, so a picture is never lost to it; after one
failure the helper is not used again in this process.

Protocol (both ways): a 4-byte big-endian length, then a pickle. Requests are
``(target, args)``; replies, in request order, ``("ok", result)`` or ``("error", text)``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

WAIT_SECONDS = 60.0
_HEADER = struct.Struct(">I")

_helper: subprocess.Popen[bytes] | None = None
_broken = False
_sent = 0  # requests sent to the current helper
_received: dict[int, Any] = {}  # replies read ahead, by request number
_read = 0  # replies read from the current helper


def warm_up(*modules: str) -> None:
    """Start the helper (matplotlib loads there while this process trains) and have it import
    ``modules`` too."""
    if _get_helper() is not None and modules:
        call("nnexp.plot_helper:_import", modules)


def draw(
    history: Any, path: str | Path, title: str | None = None, diagnosis: Any = None
) -> Callable[[], Path]:
    """Start drawing ``plot_learning_curves(history, path, title, diagnosis)``; the returned
    function waits for it and returns the path (drawing here if the helper failed)."""

    def here() -> Path:
        from nnexp.plots import plot_learning_curves

        return plot_learning_curves(history, path, title=title, diagnosis=diagnosis)

    wait = call("nnexp.plots:plot_learning_curves", history, str(path), title, diagnosis)

    def result() -> Path:
        value = wait() if wait is not None else None
        return Path(value) if value is not None and Path(value).is_file() else here()

    return result


def call(target: str, *args: Any) -> Callable[[], Any] | None:
    """Run ``target`` (``"module:function"``) with ``args`` in the helper; None if there is no
    helper. The returned function waits and returns the result, or None if it failed there."""
    global _sent
    helper = _get_helper()
    if helper is None:
        return None
    try:
        _send(helper.stdin, (target, args))
    except Exception:
        _give_up()
        return None
    number, _sent = _sent, _sent + 1

    def wait() -> Any:
        global _read
        if _helper is not helper:  # given up meanwhile
            return None
        try:
            while number not in _received:
                _received[_read] = _receive_within(helper.stdout.fileno(), WAIT_SECONDS)
                _read += 1
            status, value = _received.pop(number)
        except Exception:
            _give_up()
            return None
        if status != "ok":
            _give_up()
            return None
        return value

    return wait


def _get_helper() -> subprocess.Popen[bytes] | None:
    global _helper, _sent, _read
    if _broken:
        return None
    if _helper is not None and _helper.poll() is None:
        return _helper
    if _helper is not None:  # it died: work here from now on
        _give_up()
        return None
    _sent = _read = 0
    _received.clear()
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        _helper = subprocess.Popen(
            [sys.executable, "-m", "nnexp.plot_helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        _give_up()
        return None
    return _helper


def _give_up() -> None:
    """Stop using the helper in this process (its drawings are made here from now on)."""
    global _helper, _broken
    _broken = True
    helper, _helper = _helper, None
    if helper is not None:
        with contextlib.suppress(Exception):
            helper.kill()
            helper.wait(timeout=5)


def _send(stream: BinaryIO | None, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    assert stream is not None
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    """One message from a (buffered) stream; EOFError when the other side is gone."""
    header = _read_exactly(stream.read, _HEADER.size)
    return pickle.loads(_read_exactly(stream.read, _HEADER.unpack(header)[0]))


def _receive_within(fd: int, timeout: float) -> Any:
    """One message from the file descriptor ``fd``, unbuffered, so that ``select`` sees every
    byte not yet read (a buffered reader could hold the next reply where select cannot see
    it); TimeoutError when the other side stays silent."""
    import select

    def read(size: int) -> bytes:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no answer in {timeout:.0f} s")
        return os.read(fd, size)

    header = _read_exactly(read, _HEADER.size)
    return pickle.loads(_read_exactly(read, _HEADER.unpack(header)[0]))


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = read(size - len(data))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        data += chunk
    return data


def serve() -> None:
    """The helper's loop: run each request until the parent closes the pipe."""
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import matplotlib

    matplotlib.use("Agg")
    import nnexp.plots  # noqa: F401  # the learning curves: what every tracked run draws

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            target, args = _receive(stdin)
        except EOFError:
            return
        try:
            module, _, name = target.partition(":")
            reply = ("ok", getattr(importlib.import_module(module), name)(*args))
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        _send(stdout, reply)


def _import(modules: tuple[str, ...]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(module)


if __name__ == "__main__":
    serve()
