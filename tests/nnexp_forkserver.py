"""``python -m nnexp`` for the tests, forked from a Python that has already imported MLflow,
Optuna, Hydra and the rest of nnexp's heavy dependencies.

Why: an nnexp process spends 3-4 s importing its libraries before it reads its command line
(MLflow alone takes 2.3 s here) and the suite starts a few hundred of them, which made the
import time about half of the suite's. Here each pytest worker starts one server process that
imports those libraries once, then forks a child per command.

What stays as in ``python -m nnexp``: each command is its own process (a fork) with the test's
environment, working directory, arguments and ``sys.path[0]``; nnexp's own modules are imported
fresh in the child (the server drops them after the preload), so nnexp's import-time behaviour
is the real one; stdin is ``/dev/null``, stdout and stderr are captured, and the exit code,
``atexit`` handlers and a ``SystemExit`` message are those of the interpreter.

What differs: the libraries were imported under the server's environment. So a command whose
environment differs from the server's in a variable read at import time (``PYTHON*``, threads
of BLAS, locale, matplotlib's, MLflow's logging or telemetry: :data:`IMPORT_TIME_ENV`) runs as
a real process, as do the tests about processes themselves (signals, start-up, installs, the
README), which call ``subprocess`` directly. ``NNEXP_TEST_FORKSERVER=0`` runs every command as
a real process.

The module is both the client (:func:`run`, used by :mod:`nnexp_testing`) and the server
(``python nnexp_forkserver.py FD``).
"""

from __future__ import annotations

import atexit
import io
import os
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path

SWITCH = "NNEXP_TEST_FORKSERVER"

#: Imported by the server before any command: together they pull in what a run, a sweep and
#: the commands import from outside nnexp (about 2,700 modules).
PRELOAD = (
    "nnexp.tracking",  # first: sets MLflow's environment defaults before MLflow is imported
    "mlflow",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.db.utils",
    "mlflow.store.artifact.local_artifact_repo",
    "mlflow.pyfunc",
    "mlflow.models",
    "mlflow.models.signature",
    "mlflow.data",
    "optuna",
    "optuna.storages",
    "optuna.visualization",
    "hydra",
    "hydra.main",
    "hydra._internal.hydra",
    "hydra._internal.config_loader_impl",
    "hydra._internal.utils",
    "hydra.core.utils",
    "omegaconf",
    "sqlalchemy",
    "alembic",
    "numpy",
    "scipy.stats",
    "pandas",
    "matplotlib",
    "matplotlib.figure",
)

#: Environment variables that change how Python or a preloaded library starts: a command whose
#: value differs from the server's runs as a real process.
IMPORT_TIME_ENV = (
    "PYTHON",
    "LD_",
    "LANG",
    "LC_",
    "TZ",
    "HOME",
    "MPL",
    "NPY_",
    "OPENBLAS_",
    "OMP_",
    "MKL_",
    "MLFLOW_LOGGING_LEVEL",
    "MLFLOW_CONFIGURE_LOGGING",
    "MLFLOW_DISABLE_TELEMETRY",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
    "DO_NOT_TRACK",
    "GIT_PYTHON_REFRESH",
    "TMPDIR",
)


# ----------------------------------------------------------------------------- client side


class _Server:
    """One server process per pytest worker, started at the first command."""

    def __init__(self, env: dict[str, str]):
        import socket

        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self.connection = Connection(ours.detach())
        self.lock = threading.Lock()
        #: the server's environment once preloaded, and the defaults nnexp added to it
        self.env, self.defaults = self.connection.recv()

    def can_run(self, env: dict[str, str]) -> bool:
        """Whether a process with ``env`` would import the libraries as the server did (nnexp
        sets its defaults for MLflow before MLflow is imported, in the server as in a process)."""
        effective = {**self.defaults, **env}
        keys = {k for k in effective.keys() | self.env.keys() if k.startswith(IMPORT_TIME_ENV)}
        return all(effective.get(k) == self.env.get(k) for k in keys)

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(
        self, args: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        """One command; the caller holds :attr:`lock` (see :func:`_acquire`)."""
        with tempfile.TemporaryDirectory(prefix="nnexp-fork-") as tmp:
            out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
            self.connection.send((list(args), str(cwd), dict(env), str(out), str(err)))
            pid = self.connection.recv()
            if not self.connection.poll(timeout):
                os.kill(pid, 9)
                self.connection.recv()
                raise subprocess.TimeoutExpired(
                    ["python", "-m", "nnexp", *args], timeout, _read(out), _read(err)
                )
            code = self.connection.recv()
            return subprocess.CompletedProcess(
                [sys.executable, "-m", "nnexp", *args], code, _read(out), _read(err)
            )

    def close(self) -> None:
        try:
            self.connection.close()
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""


#: This worker's servers: one per command running at the same time (tests that run several
#: commands from threads get as many servers; a server runs one command at a time).
_servers: list[_Server] = []
_servers_lock = threading.Lock()


def _acquire() -> _Server:
    """A live server that runs nothing now, locked for the caller; a new one if all are busy."""
    with _servers_lock:
        _servers[:] = [server for server in _servers if server.alive()]
        for server in _servers:
            if server.lock.acquire(blocking=False):
                return server
        from nnexp_testing import nnexp_env

        server = _Server(nnexp_env())
        server.lock.acquire()
        _servers.append(server)
        atexit.register(server.close)
        return server


def _real_process(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nnexp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """``python -m nnexp ARGS`` in ``cwd`` with exactly ``env``, stdin ``/dev/null``, output
    captured as text: a fork of the worker's server, or a real process (see the module)."""
    if os.environ.get(SWITCH, "1") == "0":
        return _real_process(args, cwd, env, timeout)
    server = _acquire()
    try:
        if server.can_run(env):
            return server.run(args, cwd, env, timeout)
    finally:
        server.lock.release()
    return _real_process(args, cwd, env, timeout)


# ----------------------------------------------------------------------------- server side


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    for name in [m for m in sys.modules if m == "nnexp" or m.startswith("nnexp.")]:
        del sys.modules[name]


def _text_stream(fd: int, encoding: str, **options) -> io.TextIOWrapper:
    """``sys.std*`` over ``fd`` as a new interpreter makes it (a pipe or file: block-buffered;
    stderr line-buffered)."""
    raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
    buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding, **options)


def _child(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: become ``python -m nnexp ARGS`` and exit as it would."""
    import runpy

    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # found again from TMPDIR, as in a new process
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    encoding = env.get("PYTHONIOENCODING") or "utf-8"
    sys.stdin = sys.__stdin__ = _text_stream(0, encoding)
    sys.stdout = sys.__stdout__ = _text_stream(1, encoding, errors="strict")
    sys.stderr = sys.__stderr__ = _text_stream(
        2, encoding, errors="backslashreplace", line_buffering=True
    )
    sys.argv = ["-m", *args]
    sys.path[0] = cwd
    code: object = 0
    try:
        runpy.run_module("nnexp", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # as at interpreter exit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)


def serve(fd: int) -> None:
    connection = Connection(fd)
    before = dict(os.environ)
    _preload()
    defaults = {k: v for k, v in os.environ.items() if k not in before}
    connection.send((dict(os.environ), defaults))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            connection.close()
            _child(*request)
        connection.send(pid)
        _, status = os.waitpid(pid, 0)
        connection.send(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    serve(int(sys.argv[1]))
