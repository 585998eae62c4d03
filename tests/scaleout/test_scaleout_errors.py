"""A worker pointed at a database it cannot use fails at once, with one line and no password."""

from __future__ import annotations

import secrets
import socket
import time

import pytest

pytestmark = pytest.mark.slow

# Process start (imports, MLflow) is most of it; the connection itself gives up after 5 s.
FAST = 60.0


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once it is closed


def test_wrong_password_unreachable_or_silent_database_fail_fast_with_one_line(cluster) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers: only connect_timeout ends it
        cases = {
            "password authentication failed": cluster.postgres.uri("optuna", password=wrong),
            "Connection refused": cluster.postgres.uri("optuna", port=_closed_port()),
            "timeout expired": cluster.postgres.uri("optuna", port=silent.getsockname()[1]),
        }
        started = time.monotonic()
        processes = {
            reason: cluster.start(*cluster.args("sweep.n_trials=2", storage=uri))
            for reason, uri in cases.items()
        }
        results = {reason: p.communicate(timeout=120) for reason, p in processes.items()}
        elapsed = time.monotonic() - started
    assert elapsed < FAST, elapsed
    for reason, (out, err) in results.items():
        assert processes[reason].returncode == 2, err
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1, err
        port = cases[reason].rsplit(":", 1)[1].split("/")[0]
        expected = (
            f"nnexp: error: cannot open the Optuna storage "
            f"postgresql+psycopg://nnexp:***@127.0.0.1:{port}/optuna: "
        )
        assert lines[0].startswith(expected), lines[0]
        assert reason in lines[0]
        assert wrong not in err and cluster.postgres.password not in err
    assert cluster.parents_and_children() == ([], [])  # nothing was started
