"""Issues 12.4, 12.5, 12.12, 12.13, 13.2, 13.9: sweeps that end honestly.

Most cases run ``run_sweep`` in this process with ``tracking=off`` or a tiny MLflow store; the
bad inputs go through ``python -m nnexp`` to check the exit code and that nothing was created.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from nnexp.config.compose import compose_config
from nnexp.errors import ConfigError

NO_MODEL = "sweep.log_model=none"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "sweep.space.lr.high=inf",
            "nnexp: error: sweep.space.lr.high=inf is invalid: bounds and steps must be finite "
            "numbers",
        ),
        (
            "sweep.storage=sqlite:////proc/nope/o.db",
            "nnexp: error: sweep.storage='sqlite:////proc/nope/o.db' is invalid: cannot create "
            "/proc/nope/o.db (cannot create the folder /proc/nope: No such file or directory)",
        ),
        (
            "sweep.study_name=" + "s" * 300,
            "nnexp: error: sweep.study_name=ssssssssssssssssssss... (300 characters) is invalid: "
            "use at most 128 characters",
        ),
    ],
)
def test_a_sweep_that_cannot_run_is_one_line_before_anything(bench, override, message) -> None:
    result = bench.cli(*bench.overrides("lr", override))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [message]
    assert not (bench.workdir / "mlruns").exists()  # no store, no journal, no run


def test_bounds_must_be_finite_and_ordered() -> None:
    from nnexp.sweep.driver import plan_sweep

    for bad, words in (
        ("sweep.space.lr.low=-inf", "sweep.space.lr.low=-inf is invalid"),
        ("sweep.space.lr.high=nan", "sweep.space.lr.high=nan is invalid"),
        ("sweep.space.lr.low=0", "log=true needs low > 0"),
        ("sweep.space.lr.low=5", "low=5.0 >= high=3.0"),
    ):
        overrides = ["+sweep=lr", bad]
        with pytest.raises(ConfigError, match=words.replace(".", r"\.").replace("+", r"\+")):
            plan_sweep(compose_config(overrides), overrides)


def test_an_asked_trial_that_raises_while_sampling_is_told(bench, monkeypatch) -> None:
    """Never leave an asked trial RUNNING: an error while sampling tells it FAIL."""
    import nnexp.sweep.objective as objective

    def broken(trial, dim):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(objective, "suggest", broken)
    with pytest.raises(OverflowError):
        bench.run("lr", "sweep.n_trials=2", "tracking=off")
    (trial,) = bench.study("lr").get_trials()
    assert trial.state.name == "FAIL"
    assert trial.user_attrs["fail_reason"].startswith("OverflowError: cannot convert")


def test_a_trial_failing_outside_the_trial_is_retried(bench, monkeypatch) -> None:
    """MLflow's dataset insert race (12.4) fails the first trial: it is re-queued, re-run with
    the same parameters and seed, and the sweep still ends with n_trials results."""
    from mlflow.exceptions import MlflowException

    import nnexp.run

    real, calls = nnexp.run.run_experiment, []

    def racing(cfg, **kwargs):
        calls.append(list(kwargs["overrides"]))
        if len(calls) == 1:
            raise MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, "
                "datasets.name, datasets.digest"
            )
        return real(cfg, **kwargs)

    monkeypatch.setattr(nnexp.run, "run_experiment", racing)
    summary = bench.run("lr", "sweep.n_trials=2", "trainer.epochs=3", NO_MODEL)
    trials = bench.study("lr").get_trials()
    states = [(t.number, t.state.name, t.user_attrs.get("nnexp.replaced_by_retry")) for t in trials]
    assert states == [(0, "FAIL", True), (1, "COMPLETE", None), (2, "COMPLETE", None)]
    assert (
        trials[0]
        .user_attrs["fail_reason"]
        .startswith("failed outside the trial: MlflowException: (sqlite3.IntegrityError) UNIQUE")
    )
    assert trials[0].params == trials[1].params  # the retry ran first, same parameters
    assert calls[0] == calls[1]  # and the same seed
    assert summary["n_counted"] == 2 and summary["n_failed"] == 0
    # 13.9: each trial names its MLflow run
    runs = {c.info.run_id: c for c in bench.parents_and_children()[1]}
    for trial in trials[1:]:
        assert runs[trial.user_attrs["mlflow_run_id"]].data.tags["trial_number"] == str(
            trial.number
        )


def test_a_sweep_that_keeps_failing_outside_exits_1_naming_the_missing(bench, monkeypatch) -> None:
    """A full disk: three trials in a row fail outside the trial; the sweep stops, exit 1, saying
    how many trials are missing; they stay queued for the next launch."""
    import nnexp.run

    def full_disk(cfg, **kwargs):
        raise OSError(28, "No space left on device")

    from nnexp.sweep.state import SweepIncomplete

    with monkeypatch.context() as disk, pytest.raises(SweepIncomplete) as stopped:
        disk.setattr(nnexp.run, "run_experiment", full_disk)
        bench.run("lr", "sweep.n_trials=6", "tracking=off")
    assert stopped.value.exit_code == 1
    assert str(stopped.value) == (
        "the sweep ended with 0 of 6 trials: 6 missing (3 trials in a row failed outside the "
        "trial; last: trial 2: failed outside the trial: OSError: [Errno 28] No space left on "
        "device); they are queued: run the same command again to run them"
    )
    bench.run("lr", "sweep.n_trials=6", "tracking=off")
    trials = bench.study("lr").get_trials()
    assert sum(t.state.name == "COMPLETE" for t in trials) == 6


def test_a_finished_sweep_says_so_without_starting_mlflow(bench, monkeypatch, capsys) -> None:
    bench.run("lr", "sweep.n_trials=2", "trainer.epochs=2", NO_MODEL)
    capsys.readouterr()
    import nnexp.tracking.sweep_runs

    def no_mlflow(*args, **kwargs):
        raise AssertionError("MLflow was started for a finished sweep")

    with monkeypatch.context() as patch:
        patch.setattr(nnexp.tracking.sweep_runs, "SweepRuns", no_mlflow)
        summary = bench.run(
            "lr", "sweep.n_trials=2", "trainer.epochs=2", NO_MODEL, "sweep.workers=2"
        )
    assert summary["already_done"] is True
    out = capsys.readouterr().out.splitlines()
    from nnexp.sweep.identity import default_study_name

    name = default_study_name("lr", bench.overrides("lr", "trainer.epochs=2"))
    assert out[0] == (
        f"sweep {name}: 2/2 trials already done; raise sweep.n_trials or choose sweep.study_name"
    )
    assert out[1].startswith("  best: best_val_loss = ")
    bench.run("lr", "sweep.n_trials=3", "trainer.epochs=2", NO_MODEL)  # raised: it resumes
    assert len(bench.study("lr").get_trials()) == 3


def test_workers_are_capped_at_the_trials_left_and_warned_above_the_cores(capsys) -> None:
    from nnexp.sweep.state import plan_workers

    assert plan_workers(1000, 6, cores=2) == 6
    assert capsys.readouterr().err.splitlines() == [
        "nnexp: sweep.workers=1000 capped at 6 (6 trials left to run)",
        "nnexp: warning: sweep.workers=6 is more than this machine's 2 cores: the workers will "
        "share them and each trial runs slower",
    ]
    assert plan_workers(2, 1, cores=2) == 1
    assert plan_workers(2, None, cores=2) == 2
    assert plan_workers(2, 10, cores=4) == 2


def test_a_stop_request_while_waiting_for_workers_raises_terminated() -> None:
    """SIGTERM to a launcher waiting for its workers: Terminated (exit 143, parent KILLED), not
    ``sweep worker(s) exited with [-15]`` (exit 2, parent FAILED)."""
    from nnexp.signals import Terminated, install_signal_handlers
    from nnexp.sweep.workers import signal_stopped, wait_workers

    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        install_signal_handlers()
        os.kill(os.getpid(), signal.SIGTERM)
        started = time.monotonic()
        with pytest.raises(Terminated):
            wait_workers([worker])
        assert time.monotonic() - started < 2
    finally:
        worker.kill()
        worker.wait()
        install_signal_handlers()  # forget the request: later tests must not see it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert signal_stopped(-15) and signal_stopped(143) and signal_stopped(130)
    assert not signal_stopped(1) and not signal_stopped(2)
