"""Randomised kills (SIGKILL, SIGTERM, SIGINT) of single runs and sweeps, then the same command again.

Each scenario starts ``python -m nnexp`` in its own session, signals it at a seeded random moment
(``NNEXP_HARDENING_SEED``), checks what the kill left, and starts the same command again (which
may itself be killed) until a last launch runs to the end. Then the work must be done and nothing
lost: every run ever created still readable with ``MlflowClient`` (``get_run`` and the history
of each metric), none RUNNING; a single run killed with SIGTERM/SIGINT ended KILLED by itself,
one killed with SIGKILL ended KILLED by the next start; a sweep's study at its total (COMPLETE +
PRUNED + FAIL, re-queued orphans not counted), every trial that completed before a kill still
COMPLETE with the same value, no trial number on two MLflow runs, one parent run, FINISHED.

Bounded: about 25 kills in all, each process waited for at most a few minutes (the machine is
shared); every case uses 100 samples. Each scenario records its kills in ``KILLS`` (printed in
the terminal summary).
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hardening_support import (
    EXIT_CODES,
    KILLS,
    MOMENTS,
    NO_ARTIFACT_EXTRAS,
    TINY,
    finish,
    read_every_run,
    run,
    run_ids,
    start,
    wait_group_gone,
    wait_until,
)

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("NNEXP_HARDENING_SEED", "20261126"))
BOOT_TIMEOUT = 150.0  # seconds for a process to reach a kill point (imports, on a busy machine)
EXIT_TIMEOUT = 150.0

SINGLE = [*TINY, "trainer.epochs=8000", *NO_ARTIFACT_EXTRAS]  # about 2 s of training
SWEEP = [
    *TINY,
    "trainer.epochs=200",
    "+sweep=lr",
    "sweep.log_model=none",
    "sweep.pruner.name=none",
    "sweep.confirm.top_k=0",
]


def _signal(process: Any, sig: int, whole_group: bool) -> bool:
    """Send ``sig``; False if the process had already exited (then it is no kill point)."""
    if process.poll() is not None:
        return False
    try:
        if whole_group:
            os.killpg(process.pid, sig)
        else:
            os.kill(process.pid, sig)
    except ProcessLookupError:
        return False
    return True


def _kill_at_random(
    process: Any, db: Path, rng: random.Random, sig: int, kind: str, whole_group: bool = False
) -> str | None:
    """Signal ``process`` at a random moment: up to 2 s after its first ``kind`` run appears
    (mostly), or at a random time after the start (imports, composition, opening the store).

    Returns where it landed, or None if the process had ended before (not counted as a kill).
    """
    before = run_ids(db, kind=kind)
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.3, 4.0))
        moment = "after start"
    else:
        started = wait_until(lambda: run_ids(db, kind=kind) - before, BOOT_TIMEOUT, process)
        time.sleep(rng.uniform(0.0, 2.0))
        moment = "after a run started" if started else "late"
    hit = _signal(process, sig, whole_group)
    if hit:
        MOMENTS[moment] += 1
    return moment if hit else None


def _name(sig: int) -> str:
    return signal.Signals(sig).name


def _landed(sig: int, code: int | None) -> bool:
    """Whether the signal is what ended the process: nnexp's exit code for it (130, 143) or
    death by it (-9). A signal sent as the process was exiting anyway (exit 0) did not land."""
    return code in (EXIT_CODES.get(sig), -sig)


def _assert_landed(landed: Counter, sent: int, minimum: int, what: str) -> None:
    """At least ``minimum`` of the ``sent`` kills ended their process: the scenario tested
    kills, not processes that had finished by themselves."""
    assert sum(landed.values()) >= minimum, f"{what}: {dict(landed)} of {sent} kills landed"


# -- single runs -------------------------------------------------------------------------------------
def test_kill_while_the_store_is_created_leaves_a_usable_store(tmp_path: Path) -> None:
    """SIGKILL while MLflow creates a new SQLite store: the next start still opens it.

    (A store half-migrated by a kill used to fail every later start with "table
    _alembic_tmp_runs already exists"; the store is now built aside and renamed into place.)
    """
    rng = random.Random(SEED)
    for attempt in range(2):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        process = start([*TINY, "trainer.epochs=3", *NO_ARTIFACT_EXTRAS], folder)
        store = folder / "mlruns"
        created = wait_until(
            lambda store=store: store.is_dir() and any(store.glob(".mlflow.db.creating-*")),
            BOOT_TIMEOUT,
            process,
        )
        assert created, finish(process)
        time.sleep(rng.uniform(0.0, 0.6))
        assert _signal(process, signal.SIGKILL, whole_group=True), finish(process)
        finish(process)
        KILLS["SIGKILL", "single run, store being created"] += 1
        done = run([*TINY, "trainer.epochs=3", *NO_ARTIFACT_EXTRAS], folder)
        assert done.returncode == 0, done.stderr
        runs = read_every_run(store / "mlflow.db")
        assert [r.info.status for r in runs] == ["FINISHED"]
        assert not list(store.glob(".mlflow.db.creating-*"))


def test_single_run_killed_at_random_then_rerun(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    db = tmp_path / "mlruns" / "mlflow.db"
    signals = [signal.SIGTERM, signal.SIGINT, signal.SIGKILL] * 3
    rng.shuffle(signals)
    seen: set[str] = set()
    killed_9: set[str] = set()
    stopped: set[str] = set()
    landed: Counter = Counter()
    for sig in signals:
        before = run_ids(db)
        process = start(SINGLE, tmp_path)
        moment = _kill_at_random(process, db, rng, sig, "run")
        code, _, err = finish(process, EXIT_TIMEOUT)
        hit = moment is not None and _landed(sig, code)
        landed[_name(sig)] += hit
        KILLS[_name(sig) if hit else "missed", "single run"] += 1
        new = run_ids(db) - before
        assert len(new) <= 1, new
        context = f"{_name(sig)} {moment}: exit {code}\n{err}"
        if moment is None:  # it ended before the signal
            assert code == 0, context
        elif sig == signal.SIGKILL:
            assert code == -signal.SIGKILL, context
            killed_9 |= new & run_ids(db, "RUNNING")  # it cannot end its run: the next start does
        else:
            # the run's own handlers: exit 130/143; 0 if it had just finished; -SIG if the signal
            # came before Python ran nnexp's code (no run yet) or as the interpreter exited (the
            # run was FINISHED: Python restores the default handlers when it shuts down)
            assert code in (EXIT_CODES[sig], 0, -sig), context
            if code == EXIT_CODES[sig]:
                assert err.strip().splitlines()[-1].startswith("nnexp: error: "), context
            if code == -sig:
                assert new <= run_ids(db, "FINISHED"), context
            assert not new & run_ids(db, "RUNNING"), context  # never left RUNNING
            stopped |= new & run_ids(db, "KILLED")
        if new:  # this start got as far as its run: it ended the SIGKILLed runs before it first
            assert not (killed_9 - new) & run_ids(db, "RUNNING"), context
        seen |= new
    _assert_landed(landed, len(signals), 6, "single run")
    assert all(landed[_name(sig)] for sig in set(signals)), dict(landed)  # each kind, once
    done = run(SINGLE, tmp_path, timeout=EXIT_TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert len(re.findall(r"was left RUNNING", done.stderr)) <= len(killed_9)
    runs = {r.info.run_id: r for r in read_every_run(db)}
    assert seen <= set(runs), "a run was lost"
    assert not [r for r in runs.values() if r.info.status == "RUNNING"]
    finished = [r for r in runs.values() if r.info.status == "FINISHED"]
    assert finished, "the last launch finished its run"
    for run_id in killed_9:
        assert runs[run_id].info.status == "KILLED"
        assert runs[run_id].data.tags["error"].startswith("orphaned: pid ")
    for run_id in stopped:
        assert runs[run_id].data.tags["error"].startswith("interrupted")
    KILLS["runs reaped", "single run"] += len(killed_9)


# -- sweeps ------------------------------------------------------------------------------------------
def _study(folder: Path, name: str = "lr") -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    # the default study name carries a digest of the command's overrides: lr-<8 hex digits>
    found = sorted((folder / "mlruns" / "optuna").glob(f"{name}*.journal"))
    if not found:
        return None
    journal = found[0]
    storage = JournalStorage(JournalFileBackend(str(journal)))
    try:
        return optuna.load_study(study_name=journal.stem, storage=storage)
    except KeyError:  # killed before the study was created
        return None


def _completed(folder: Path) -> dict[int, float]:
    from optuna.trial import TrialState

    study = _study(folder)
    if study is None:
        return {}
    return {t.number: t.value for t in study.get_trials() if t.state == TrialState.COMPLETE}


def _check_sweep_done(folder: Path, n_trials: int, completed: dict[int, float]) -> Counter:
    """The study is at its total, nothing completed was lost, MLflow agrees; returns states."""
    from optuna.trial import TrialState

    from nnexp.sweep.orphans import ORPHAN_RETRY_ATTR
    from nnexp.sweep.storage import counted_trials

    study = _study(folder)
    trials = study.get_trials()
    states = Counter(t.state.name for t in trials)
    assert states["RUNNING"] == 0 and states["WAITING"] == 0, states
    counted = counted_trials(trials)
    assert len(counted) == n_trials, (states, len(counted))
    for trial in counted:
        # a counted FAIL is a result (diverged), or a retry orphaned again: a trial that killed
        # its worker twice in a row is not re-queued a second time (nnexp.sweep.orphans)
        reason = trial.user_attrs.get("fail_reason", "")
        if trial.state == TrialState.FAIL and reason.startswith("orphaned"):
            assert trial.user_attrs.get(ORPHAN_RETRY_ATTR), (trial.number, trial.user_attrs)
            KILLS["given up", "sweep trials orphaned twice"] += 1
        elif trial.state == TrialState.FAIL:
            assert not reason.startswith("interrupted"), (trial.number, reason)
    by_number = {t.number: t for t in trials}
    for number, value in completed.items():  # every trial completed before a kill is kept
        assert by_number[number].state == TrialState.COMPLETE
        assert by_number[number].value == value
    runs = read_every_run(folder / "mlruns" / "mlflow.db")
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parents = [r for r in runs if r.data.tags.get("nnexp.kind") == "sweep"]
    assert [p.info.status for p in parents] == ["FINISHED"]
    children = [r for r in runs if r.data.tags.get("nnexp.kind") == "trial"]
    numbers = [int(r.data.tags["trial_number"]) for r in children]
    assert len(numbers) == len(set(numbers)), "a trial number is on two runs"
    by_run = {int(r.data.tags["trial_number"]): r for r in children}
    for trial in counted:
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            child = by_run[trial.number]
            assert child.info.status == "FINISHED", trial.number
            # (a SIGKILL between Optuna's tell and this tag could leave it out: milliseconds)
            assert child.data.tags.get("trial_state", trial.state.name) == trial.state.name
    return states


def _sweep_rounds(
    folder: Path,
    args: list[str],
    kills: list[tuple[int, bool]],
    rng: random.Random,
    scenario: str,
) -> tuple[dict[int, float], int]:
    """Launch, kill (signal, whole group?), check, repeat; returns (completed trials, orphans)."""
    db = folder / "mlruns" / "mlflow.db"
    completed: dict[int, float] = {}
    orphans = 0
    landed: Counter = Counter()
    for sig, whole_group in kills:
        process = start(args, folder)
        moment = _kill_at_random(process, db, rng, sig, "trial", whole_group)
        code, _, err = finish(process, EXIT_TIMEOUT)
        wait_group_gone(process.pid, EXIT_TIMEOUT)  # its workers too
        hit = moment is not None and _landed(sig, code)
        landed[_name(sig)] += hit
        KILLS[_name(sig) if hit else "missed", scenario] += 1
        orphans += err.count("was orphaned")
        context = f"{_name(sig)} {moment}: exit {code}\n{err}"
        if moment is None:
            assert code == 0, context
        elif sig == signal.SIGKILL:
            assert code == -signal.SIGKILL, context
        else:
            assert code in (EXIT_CODES[sig], 0, -sig), context
            assert not run_ids(db, "RUNNING"), context  # SIGTERM/SIGINT leave nothing RUNNING
        now = _completed(folder)
        assert all(now.get(n) == v for n, v in completed.items()), "a completed trial changed"
        completed = now
    # a sweep of 16 x 200-epoch trials outlives a kill 0-2 s into a trial: all but one land
    _assert_landed(landed, len(kills), len(kills) - 1, scenario)
    return completed, orphans


def _finish_sweep(folder: Path, args: list[str], n_trials: int, completed: dict[int, float]):
    done = run(args, folder, timeout=EXIT_TIMEOUT * 2)
    assert done.returncode == 0, done.stderr
    states = _check_sweep_done(folder, n_trials, completed)
    return done.stderr.count("was orphaned"), states


def test_sweep_one_worker_killed_at_random_then_resumed(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    n_trials = 16
    args = [*SWEEP, f"sweep.n_trials={n_trials}"]
    signals = [signal.SIGTERM, signal.SIGTERM, signal.SIGINT, signal.SIGINT]
    signals += [signal.SIGKILL, signal.SIGKILL]
    rng.shuffle(signals)
    completed, orphans = _sweep_rounds(
        tmp_path, args, [(s, False) for s in signals], rng, "sweep, 1 worker"
    )
    reaped, _ = _finish_sweep(tmp_path, args, n_trials, completed)
    KILLS["orphans reaped", "sweep, 1 worker"] += orphans + reaped


def test_sweep_two_workers_killed_at_random_then_resumed(tmp_path: Path) -> None:
    """``sweep.workers=2``: SIGTERM to the launcher, Ctrl-C (SIGINT) to the whole job, SIGKILL
    to the launcher only (its worker must stop too) or to the whole job."""
    rng = random.Random(SEED + 3)
    n_trials = 16
    args = [*SWEEP, f"sweep.n_trials={n_trials}", "sweep.workers=2"]
    kills = [
        (signal.SIGTERM, False),
        (signal.SIGINT, True),
        (signal.SIGKILL, False),
        (signal.SIGKILL, True),
    ]
    rng.shuffle(kills)
    completed, orphans = _sweep_rounds(tmp_path, args, kills, rng, "sweep, 2 workers")
    reaped, _ = _finish_sweep(tmp_path, args, n_trials, completed)
    KILLS["orphans reaped", "sweep, 2 workers"] += orphans + reaped


def test_two_launches_of_one_sweep_killed_one_after_the_other(tmp_path: Path) -> None:
    """The same command started twice by hand: one launch is killed while the other goes on,
    then the other is killed too; twice. A last launch finishes the study."""
    rng = random.Random(SEED + 4)
    n_trials = 16
    args = [*SWEEP, f"sweep.n_trials={n_trials}"]
    db = tmp_path / "mlruns" / "mlflow.db"
    signals = [signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGKILL]
    rng.shuffle(signals)
    completed: dict[int, float] = {}
    orphans = 0
    landed: Counter = Counter()
    for first_sig, second_sig in zip(signals[::2], signals[1::2], strict=True):
        first, second = start(args, tmp_path), start(args, tmp_path)
        for process, sig in ((first, first_sig), (second, second_sig)):
            moment = _kill_at_random(process, db, rng, sig, "trial")
            code, _, err = finish(process, EXIT_TIMEOUT)
            hit = moment is not None and _landed(sig, code)
            landed[_name(sig)] += hit
            KILLS[_name(sig) if hit else "missed", "sweep, 2 launches"] += 1
            orphans += err.count("was orphaned")
            context = f"{_name(sig)} {moment}: exit {code}\n{err}"
            expected = (0,) if moment is None else (EXIT_CODES.get(sig, -sig), 0, -sig)
            assert code in expected, context
        now = _completed(tmp_path)
        assert all(now.get(n) == v for n, v in completed.items()), "a completed trial changed"
        completed = now
    _assert_landed(landed, len(signals), len(signals) - 1, "sweep, 2 launches")
    reaped, _ = _finish_sweep(tmp_path, args, n_trials, completed)
    KILLS["orphans reaped", "sweep, 2 launches"] += orphans + reaped
