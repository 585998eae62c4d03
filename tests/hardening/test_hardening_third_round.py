"""Issue 12, third adversarial round: new cases of the kinds issue 12 lists, each of which
crashed (exit 1), was silently accepted, was slow or wrote a secret before its fix.

Each end-to-end case runs ``python -m nnexp`` in a folder that already holds a store with one
run, then checks one ``nnexp: error:`` line naming the key and value, exit 2, and that the store
still holds exactly that run (read back through ``MlflowClient`` over every experiment).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hardening_support import TINY, run
from services import postgres  # noqa: F401  (the fixture)

from nnexp.errors import ConfigError

SECRET = "Th1rdR0undPW"


@pytest.fixture(scope="module")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose store holds one finished run."""
    folder = tmp_path_factory.mktemp("third_round")
    done = run([*TINY, "trainer.epochs=2", "tracking.log_plots=false"], folder)
    assert done.returncode == 0, done.stderr
    return folder


def _run_ids(folder: Path) -> list[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder}/mlruns/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments(view_type=3)]
    return sorted(r.info.run_id for r in client.search_runs(experiments, run_view_type=3))


def _refused(
    folder: Path, args: list[str], *needles: str, within: float = 60.0, base: list[str] = TINY
) -> str:
    before = _run_ids(folder)
    started = time.monotonic()
    done = run([*base, "trainer.epochs=2", *args], folder, timeout=within + 60)
    elapsed = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-800:])
    assert len(lines) == 1 and lines[0].startswith("nnexp: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Error:" not in lines[0] and "NNEXP_TRACEBACK" not in lines[0], lines[0]
    assert SECRET not in done.stdout + done.stderr
    assert _run_ids(folder) == before
    assert elapsed < within, f"{elapsed:.0f} s"
    return lines[0]


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("optimizer.l1=inf", "optimizer.l1=inf"),
        ("trainer.clip_grad_value=inf", "trainer.clip_grad_value=inf"),
        ("trainer.clip_grad_norm=inf", "trainer.clip_grad_norm=inf"),
        ("optimizer.weight_decay=inf", "optimizer.weight_decay=inf"),
        ("data.input_noise=inf", "data.input_noise=inf"),
        ("optimizer.schedule.name=cosine optimizer.schedule.min_lr=inf", "min_lr=inf"),
        ("data.class_weight=[1.0,inf]", "data.class_weight"),
        ("data.class_weight=3", "data.class_weight=3"),
        ("trainer.early_stopping.patience=-1", "trainer.early_stopping.patience=-1"),
        ("trainer.early_stopping.min_delta=nan", "trainer.early_stopping.min_delta=nan"),
        ("trainer.early_stopping.min_delta=-1", "trainer.early_stopping.min_delta=-1"),
    ],
)
def test_non_finite_and_unused_but_invalid_values_are_refused_at_composition(
    override: str, needle: str
) -> None:
    """Each crashed in the engine (exit 1) or trained: ``inf`` passed ``>= 0`` and ``> 0``
    checks, an int class weight was iterated, early-stopping values were checked only when
    early stopping was on."""
    from nnexp.config.compose import compose_config

    with pytest.raises(ConfigError) as refused:
        compose_config([*TINY, *override.split()])
    assert needle in str(refused.value), str(refused.value)
    assert "is invalid" in str(refused.value)


@pytest.mark.slow  # a subprocess CLI run
def test_inf_value_refused_before_the_store(store_folder: Path) -> None:
    _refused(store_folder, ["optimizer.l1=inf"], "optimizer.l1=inf", "must be a finite number")


@pytest.mark.slow  # a subprocess CLI run
def test_null_config_group_is_one_line(store_folder: Path) -> None:
    """``model=null`` raised Hydra's ValueError: exit 1 and "NNEXP_TRACEBACK"."""
    _refused(store_folder, ["model=null"], "model=null", "mlp")


@pytest.mark.slow  # a subprocess CLI run
def test_uppercase_http_scheme_fails_fast(store_folder: Path) -> None:
    """``HTTP://`` skipped the 5 s reachability check: 255 s of MLflow retries."""
    _refused(
        store_folder,
        [f"tracking.uri=HTTP://u:{SECRET}@127.0.0.1:9/"],
        "cannot reach the MLflow tracking server",
        within=20,
    )


@pytest.mark.slow  # a subprocess CLI run
@pytest.mark.parametrize(
    "uri", [f"http://u:{SECRET}@127.0.0.1:9/ x", "http://127.0.0.1:abc/", "https://h:99999/"]
)
def test_malformed_server_uri_is_one_line(store_folder: Path, uri: str) -> None:
    """A space (``InvalidURL``) or a bad port (``ValueError``) escaped the reachability check."""
    _refused(
        store_folder,
        [f"tracking.uri='{uri}'"],
        "cannot reach the MLflow tracking server",
        within=20,
    )


@pytest.mark.slow  # a subprocess CLI run
def test_sweep_storage_without_its_driver_is_one_line(store_folder: Path) -> None:
    """``mysql://`` without MySQLdb: Optuna's ImportError, exit 1."""
    line = _refused(
        store_folder,
        ["+sweep=lr", "sweep.n_trials=2", f"sweep.storage=mysql://u:{SECRET}@127.0.0.1:9/x"],
        "cannot open the Optuna storage mysql://u:***@127.0.0.1:9/x",
    )
    assert "install" in line


@pytest.mark.slow  # a subprocess CLI run
@pytest.mark.parametrize(
    "name", [f"exp?token={SECRET}", f"http://u:{SECRET}@host/exp", f"exp password={SECRET}"]
)
def test_experiment_name_holding_a_secret_is_refused(store_folder: Path, name: str) -> None:
    """The experiment name was stored in clear in the store's experiments table."""
    _refused(store_folder, [f"tracking.experiment_name='{name}'"], "tracking.experiment_name")
    data = (store_folder / "mlruns" / "mlflow.db").read_bytes()
    assert SECRET.encode() not in data


@pytest.mark.slow  # a subprocess CLI run
def test_experiment_name_secret_from_the_environment_is_refused(store_folder: Path) -> None:
    import os
    import subprocess
    import sys

    from nnexp_testing import nnexp_env

    before = _run_ids(store_folder)
    env = {**nnexp_env(), "MLFLOW_EXPERIMENT_NAME": f"e?token={SECRET}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, "-m", "nnexp", *TINY, "trainer.epochs=2"],
        cwd=store_folder,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "MLFLOW_EXPERIMENT_NAME" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert _run_ids(store_folder) == before
    assert os.path.isfile(store_folder / "mlruns" / "mlflow.db")
    assert SECRET.encode() not in (store_folder / "mlruns" / "mlflow.db").read_bytes()


def test_a_run_whose_end_meets_a_locked_database_still_ends(tmp_path: Path) -> None:
    """Seen in a ``sweep.workers=2`` kill round: a trial failed outside the trial (SQLite's
    ``database is locked``, which a read transaction upgrading to a write gets at once, without
    MLflow's busy timeout), ending its run met the same lock, and the run stayed RUNNING while
    its worker went on to other trials (so no reaper could end it). A transient lock is now
    retried; the run ends FAILED. The lock is injected into the real store's client."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from nnexp.tracking import RunRecorder, open_store

    store = open_store(f"sqlite:///{tmp_path / 'mlflow.db'}", "nnexp", None)
    recorder = RunRecorder(store, tags={"nnexp.kind": "trial"})
    recorder.__enter__()
    real = recorder._client.set_terminated
    calls = []

    def locked_twice(run_id: str, status: str | None = None) -> None:
        calls.append(status)
        if len(calls) <= 2:
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        real(run_id, status=status)

    recorder._client.set_terminated = locked_twice
    recorder.end(RuntimeError("the trial failed"))
    run = MlflowClient(store.uri).get_run(recorder.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "RuntimeError: the trial failed"
    assert calls == ["FAILED"] * 3


@pytest.mark.slow  # waits out the 7.5 s of retries
def test_a_run_whose_end_fails_for_good_says_so(tmp_path: Path) -> None:
    """A store that stays locked: the error goes on (bounded: a few seconds), not swallowed."""
    from mlflow.exceptions import MlflowException

    from nnexp.tracking import RunRecorder, open_store

    store = open_store(f"sqlite:///{tmp_path / 'mlflow.db'}", "nnexp", None)
    recorder = RunRecorder(store, tags={"nnexp.kind": "trial"})
    recorder.__enter__()

    def always_locked(run_id: str, status: str | None = None) -> None:
        raise MlflowException("(sqlite3.OperationalError) database is locked")

    recorder._client.set_terminated = always_locked
    started = time.monotonic()
    with pytest.raises(MlflowException, match="database is locked"):
        recorder.end(None)
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "1e309"])
def test_a_missing_target_value_is_refused_not_a_class(tmp_path: Path, cell: str) -> None:
    """A target cell ``nan`` among 0/1 labels made a third class "nan" and trained (exit 0);
    a feature cell ``nan`` was already refused. Both now name the row and column."""
    from nnexp.data.csv_data import load_csv

    rows = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30))
    path = tmp_path / "d.csv"
    path.write_text(f"a,b,y\n{rows}1,2,{cell}\n")
    with pytest.raises(ValueError) as refused:
        load_csv(path, target="y")
    assert str(refused.value) == (
        f"{path}: row 31 (line 32 of the file), column 'y': missing/non-finite target value "
        f"{cell!r}"
    )


def test_an_unreadable_csv_names_the_file(tmp_path: Path) -> None:
    """``data.path=/proc/self/mem``: ``[Errno 5] Input/output error``, naming no file."""
    from nnexp.data.csv_data import load_csv

    with pytest.raises(ValueError, match=r"^/proc/\d+/mem: cannot read it: Input/output error"):
        load_csv("/proc/self/mem", target="y")


@pytest.mark.slow  # a subprocess CLI run
@pytest.mark.parametrize("command", ["runs", "reproduce abc", "compare abc def"])
def test_reading_a_store_that_is_not_sqlite_is_one_line_at_once(
    tmp_path: Path, command: str
) -> None:
    """``runs --tracking-uri sqlite:////proc/self/mem`` (or any file that is not SQLite): 112 s
    and 37 lines of MLflow retries; a run already checked the file's header, the commands that
    read a store did not."""
    fake = tmp_path / "notes.db"
    fake.write_text("not a database\n" * 10)
    started = time.monotonic()
    done = run([*command.split(), "--tracking-uri", f"sqlite:///{fake}"], tmp_path, timeout=60)
    assert time.monotonic() - started < 20
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"nnexp: error: the MLflow store {fake} is not a SQLite database (it starts with "
        "b'not a da'): move it away or pass another tracking.uri\n"
    )
    assert fake.read_text() == "not a database\n" * 10


def test_a_store_mlflow_refuses_to_open_is_one_line_for_the_reading_commands(
    tmp_path: Path,
) -> None:
    """``runs --tracking-uri file:///...``: MLflow 3 refuses its file store (maintenance mode)
    on first use; a run said so in one line with exit 2, the reading commands crashed (exit 1,
    ``MlflowException: ...`` and the traceback hint)."""
    from nnexp.errors import TrackingError
    from nnexp.tracking.reader import StoreReader

    uri = f"file://{tmp_path / 'fs'}"
    with pytest.raises(TrackingError, match=r"^--tracking-uri=.file://.*maintenance mode"):
        StoreReader(uri)


@pytest.mark.slow  # a subprocess CLI run
@pytest.mark.parametrize("output", ["/proc/nope/x.png", "{folder}"])
def test_compare_output_that_cannot_be_written_is_one_line(store_folder: Path, output: str) -> None:
    """``compare RUN --output /proc/nope/x.png``: ``FileNotFoundError``, exit 1, after reading
    every run; ``--output`` naming a folder failed the same way in matplotlib."""
    (run_id,) = _run_ids(store_folder)
    output = output.format(folder=store_folder)
    done = run(["compare", run_id[:8], "--output", output], store_folder, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"nnexp: error: compare: cannot write --output {output}: ")
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.slow  # a subprocess CLI run
def test_postgresql_sweep_storage_password_reaches_no_byte(
    tmp_path: Path,
    postgres,  # noqa: F811  (the fixture imported above)
) -> None:
    """A sweep whose Optuna storage is ``postgresql://user:PASSWORD@...`` (the earlier tests
    used a tracking server's password and an SQLite storage's ``?password=``): the console, every
    file left in the folder (the MLflow store, artifacts such as best.json and trials.csv) and a
    dump of the Optuna database hold no password."""
    storage = postgres.uri("optuna")
    args = [*TINY, "trainer.epochs=3", "+sweep=lr", "sweep.n_trials=2", "sweep.confirm.top_k=0"]
    done = run([*args, f"sweep.storage={storage}"], tmp_path, timeout=240)
    assert done.returncode == 0, done.stderr[-800:]
    assert "2 trials (2 complete" in done.stdout
    secret = postgres.password.encode()
    assert secret not in (done.stdout + done.stderr).encode()
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert leaks == []
    dump = postgres.run(str(postgres.bin / "pg_dump"), *postgres.socket_args(), "optuna")
    assert "lr" in dump.stdout and postgres.password not in dump.stdout


@pytest.mark.slow  # a subprocess CLI run
@pytest.mark.parametrize(
    "override", ["model.hidden_sizes=[100000000000]", "data.n_samples=10000000000000"]
)
def test_a_config_too_large_for_memory_is_one_line(store_folder: Path, override: str) -> None:
    """``MemoryError: Unable to allocate 2.91 TiB ...``, exit 1 and the traceback hint."""
    line = _refused(store_folder, [override], "not enough memory", "Unable to allocate")
    assert "model.hidden_sizes" in line and "data.n_samples" in line


def test_the_middle_snapshot_epoch_is_found_without_listing_every_epoch() -> None:
    """``trainer.epochs=10**20``: the probe listed every logged epoch to find the middle one, so
    the run grew to the OOM killer's size (SIGKILL at 210 s, its run left RUNNING). The middle
    logged epoch is now computed, the same as the listing for every small case."""
    from nnexp.nn.inspect import middle_logged_epoch

    for epochs in range(1, 60):
        for log_every in range(1, 12):
            logged = [
                e for e in range(1, epochs + 1) if e == 1 or e % log_every == 0 or e == epochs
            ]
            expected = min(logged, key=lambda e: abs(e - (1 + epochs) / 2))
            assert middle_logged_epoch(epochs, log_every) == expected, (epochs, log_every)
    started = time.monotonic()
    assert middle_logged_epoch(10**20, 7) == 50000000000000000001 - 50000000000000000001 % 7
    assert time.monotonic() - started < 0.01


@pytest.mark.slow  # a subprocess CLI run
def test_a_url_given_as_data_path_is_named_as_given_and_redacted(store_folder: Path) -> None:
    """``data.path=http://u:PW@host/d.csv``: "file not found: http:/u:PW@host/d.csv" (the
    single-slash form of a path, which redaction cannot know for a URL) printed the password."""
    line = _refused(
        store_folder,
        ["data=csv", f"data.path=http://u:{SECRET}@127.0.0.1:9/d.csv", "data.target=y"],
        "file not found: http://u:***@127.0.0.1:9/d.csv",
        base=["trainer.progress=false"],  # data=csv takes no data.n_samples
    )
    assert SECRET not in line


@pytest.mark.slow  # a subprocess CLI run
def test_a_multirun_sees_the_users_config_dir(tmp_path: Path) -> None:
    """``-m --config-dir ./myconf +experiment=mine seed=0,1``: the multirun's value check (run
    before its parent exists) composed without the user's folder and refused the user's own
    experiment (``unknown option 'mine' for 'experiment'``, exit 2); a single run took it."""
    from mlflow.tracking import MlflowClient

    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    (tmp_path / "myconf" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ntrainer:\n  epochs: 2\n  progress: false\n"
    )
    done = run(
        ["-m", "--config-dir", "myconf", "+experiment=mine", "data.n_samples=100", "seed=0,1"],
        tmp_path,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-800:]
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("nnexp").experiment_id])
    kinds = sorted(r.data.tags.get("nnexp.kind") for r in runs)
    assert kinds == ["multirun", "run", "run"], kinds
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.params.get("trainer.epochs") for r in runs if "seed" in r.data.params} == {"2"}


@pytest.mark.slow  # a subprocess CLI run
def test_a_sweeps_re_run_line_works_with_the_users_config_dir(tmp_path: Path) -> None:
    """``--config-dir ./myconf +experiment=mine +sweep=lr``: the ``re-run it:`` line (and each
    trial's ``command`` tag) left the folder out, so pasting it failed with ``unknown option
    'mine' for 'experiment'``. The line now carries the job's search path."""
    import subprocess

    from nnexp_testing import nnexp_env

    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    (tmp_path / "myconf" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ntrainer:\n  epochs: 2\n  progress: false\n"
    )
    args = ["--config-dir", "myconf", "+experiment=mine", "data.n_samples=100"]
    sweep = [*args, "+sweep=lr", "sweep.n_trials=2", "sweep.confirm.top_k=0"]
    done = run(sweep, tmp_path, timeout=240)
    assert done.returncode == 0, done.stderr[-800:]
    (line,) = [x for x in done.stdout.splitlines() if x.strip().startswith("re-run it: ")]
    command = line.split("re-run it: ", 1)[1] + " tracking=off"
    assert "myconf" in command
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = subprocess.run(
        ["bash", "-c", command],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env=nnexp_env(),
    )
    assert again.returncode == 0, (command, again.stderr[-500:])
