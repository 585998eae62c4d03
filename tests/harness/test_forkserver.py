"""The tests' ``python -m nnexp`` (a fork of a preloaded Python, :mod:`nnexp_forkserver`) gives
what the real command gives: the same stdout, stderr and exit code, in the test's working
directory and environment."""

from __future__ import annotations

from pathlib import Path

import nnexp_forkserver
import pytest
from nnexp_testing import nnexp_env

CASES = {
    "bad value": ["optimizer.lr=abc"],
    "composed config": ["--cfg", "job", "seed=3", "optimizer=sgd"],
    "unknown option": ["model=huge"],
    "help": ["--help"],
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_a_forked_command_prints_and_exits_as_the_real_one(tmp_path: Path, args) -> None:
    env = nnexp_env()
    forked = nnexp_forkserver.run(args, tmp_path, env, timeout=120)
    real = nnexp_forkserver._real_process(args, tmp_path, env, timeout=120)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert forked.returncode == (0 if args[0] in ("--cfg", "--help") else 2)


def test_a_forked_command_runs_in_the_tests_folder_and_environment(tmp_path: Path) -> None:
    store = tmp_path / "elsewhere" / "mlflow.db"
    env = nnexp_env(MLFLOW_TRACKING_URI=f"sqlite:///{store}")
    done = nnexp_forkserver.run(["runs"], tmp_path, env, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"nnexp: error: no MLflow store at {store} ")
    (tmp_path / "mlruns").mkdir()
    (
        tmp_path / "mlruns" / "mlflow.db"
    ).touch()  # the folder's own store, when the variable is unset
    done = nnexp_forkserver.run(["runs"], tmp_path, nnexp_env(), timeout=120)
    assert "store: sqlite:///" + str(tmp_path / "mlruns" / "mlflow.db") in done.stdout, done


def test_an_environment_that_changes_imports_runs_a_real_process(tmp_path: Path) -> None:
    nnexp_forkserver.run(["--help"], tmp_path, nnexp_env(), timeout=120)  # the server is up
    server = nnexp_forkserver._servers[0]
    assert server.can_run(nnexp_env())
    assert not server.can_run(nnexp_env(OPENBLAS_NUM_THREADS="7"))
    assert not server.can_run(nnexp_env(PYTHONPATH=str(tmp_path)))


def test_commands_from_threads_run_at_the_same_time(tmp_path: Path) -> None:
    """Each concurrent command gets its own server (the bad-input cases run three at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    folders = [tmp_path / str(i) for i in range(3)]
    for folder in folders:
        folder.mkdir()
    with ThreadPoolExecutor(3) as pool:
        done = list(
            pool.map(
                lambda f: nnexp_forkserver.run(
                    ["--cfg", "job", f"seed={f.name}"], f, nnexp_env(), 120
                ),
                folders,
            )
        )
    assert [d.returncode for d in done] == [0, 0, 0]
    assert [f"seed: {i}" in d.stdout for i, d in enumerate(done)] == [True] * 3
    assert len(nnexp_forkserver._servers) >= 2
