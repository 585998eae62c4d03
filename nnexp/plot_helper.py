"""Learning-curve PNGs drawn in a helper process, while this one writes the run to MLflow.

Why: drawing the PNG takes 0.15-0.25 s of CPU, about as long as all of a run's MLflow writes
(metrics, tags, artifacts, the pyfunc model), and the machine has a second core. The helper is
a plain ``python -m nnexp.plot_helper`` child (not ``multiprocessing``, whose children re-import
the caller's ``__main__`` script): it imports matplotlib on the other core while the first run
trains, then draws each run's curves while this process writes to MLflow. One helper serves
every run of the process (a multirun, a sweep with ``log_plots``); it exits when this process
closes the pipe or dies, and ignores Ctrl-C (this process turns that into a stop request).

``warm_up()`` starts the helper (idempotent, cheap); ``draw(...)`` sends a drawing and returns a
function that waits for the file. Whatever goes wrong with the helper (it cannot start, it died,
it is stuck, the drawing failed there) the drawing is made in this process instead, so a PNG is
never lost to it; after one failure the helper is not used again in this process.

Protocol (both ways): a 4-byte big-endian length, then a pickle. Requests are
``(history, path, title, diagnosis)``; replies ``("ok", path)`` or ``("error", text)``.
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


def warm_up() -> None:
    """Start the helper so that matplotlib is imported there while this process trains."""
    _get_helper()


def draw(
    history: Any, path: str | Path, title: str | None = None, diagnosis: Any = None
) -> Callable[[], Path]:
    """Start drawing ``plot_learning_curves(history, path, title, diagnosis)``; the returned
    function waits for it and returns the path (drawing here if the helper failed)."""

    def here() -> Path:
        from nnexp.plots import plot_learning_curves

        return plot_learning_curves(history, path, title=title, diagnosis=diagnosis)

    helper = _get_helper()
    if helper is None:
        return here
    try:
        _send(helper.stdin, (history, str(path), title, diagnosis))
    except Exception:
        _give_up()
        return here

    def wait() -> Path:
        try:
            status, value = _receive(helper.stdout, timeout=WAIT_SECONDS)
            if status == "ok" and Path(value).is_file():
                return Path(value)
        except Exception:
            pass
        _give_up()
        return here()

    return wait


def _get_helper() -> subprocess.Popen[bytes] | None:
    global _helper
    if _broken:
        return None
    if _helper is not None and _helper.poll() is None:
        return _helper
    if _helper is not None:  # it died: draw here from now on
        _give_up()
        return None
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


def _receive(stream: BinaryIO | None, timeout: float | None = None) -> Any:
    """One message; raises EOFError when the other side is gone, TimeoutError when silent."""
    assert stream is not None
    if timeout is not None:
        import select

        ready, _, _ = select.select([stream], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no answer in {timeout:.0f} s")
    header = _read_exactly(stream, _HEADER.size)
    return pickle.loads(_read_exactly(stream, _HEADER.unpack(header)[0]))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        data += chunk
    return data


def serve() -> None:
    """The helper's loop: draw each request until the parent closes the pipe."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import matplotlib

    matplotlib.use("Agg")
    from nnexp.plots import plot_learning_curves

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            history, path, title, diagnosis = _receive(stdin)
        except EOFError:
            return
        try:
            reply = ("ok", str(plot_learning_curves(history, path, title, diagnosis)))
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        _send(stdout, reply)


if __name__ == "__main__":
    serve()
