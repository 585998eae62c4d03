"""What ``python -m nnexp`` prints, on a terminal and in a log: progress, names, help, pipes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from nnexp_testing import nnexp_env

from nnexp.progress import EpochProgress

QUICK = ["data.n_samples=100", "trainer.epochs=5", "tracking.log_model=false"]


def records(n: int):
    return [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 2.0 / e} for e in range(1, n + 1)]


def test_plain_lines_every_tenth_of_the_epochs(capsys):
    bar = EpochProgress(20, description="mlp-moons", plain=True)
    for record in records(20):
        bar.on_epoch_end(record)
    bar.on_train_end(None)
    lines = capsys.readouterr().out.splitlines()
    assert [int(re.search(r"epoch (\d+)/20", line)[1]) for line in lines] == list(range(2, 21, 2))
    assert lines[-1] == "mlp-moons: epoch 20/20  train_loss 0.0500  val_loss 0.1000"


def test_a_run_that_stops_early_prints_its_last_epoch(capsys):
    bar = EpochProgress(100, description="run", plain=True)
    for record in records(25):  # early stopping at epoch 25
        bar.on_epoch_end(record)
    bar.on_train_end(None)
    epochs = [
        int(re.search(r"epoch (\d+)/100", line)[1])
        for line in capsys.readouterr().out.split("\n")
        if line
    ]
    assert epochs == [10, 20, 25]


def test_no_progress_when_disabled(capsys):
    bar = EpochProgress(10, enabled=False, plain=True)
    for record in records(10):
        bar.on_epoch_end(record)
    bar.on_train_end(None)
    assert capsys.readouterr().out == ""


def test_a_log_gets_progress_lines_and_a_terminal_a_loading_line_within_a_second(tmp_path):
    """Piped: the run's progress lines on stdout. On a terminal (a pty): a line at once."""
    args = [*QUICK, "trainer.epochs=10", "tracking=off", "trainer.progress=true"]
    piped = subprocess.run(
        [sys.executable, "-m", "nnexp", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=nnexp_env(),
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    lines = [line for line in piped.stdout.splitlines() if re.search(r": epoch \d+/10 ", line)]
    assert [line.split(":")[0] for line in lines] == ["mlp-moons-adam-lr0.01-s0"] * 10
    assert "composing" not in piped.stdout + piped.stderr  # that line is for terminals

    import pty

    leader, follower = pty.openpty()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnexp", *args],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=nnexp_env(),
    )
    os.close(follower)
    output, first = b"", None
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process exited
                break
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - started
            output += chunk
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    text = output.decode()
    assert text.startswith("nnexp: composing the config"), text
    assert "nnexp: run mlp-moons-adam-lr0.01-s0: loading data=moons, tracking off" in text
    # the interpreter's own start-up counts too; a loaded CI machine gets some slack
    assert first is not None and first < 2.0, first


@pytest.mark.slow
def test_multirun_names_its_jobs_by_their_swept_overrides_and_prints_the_parent(nnexp_cmd):
    result = nnexp_cmd.run(
        "-m", "model.activation=relu,tanh", *QUICK, "trainer.progress=false",
        "tracking.log_plots=false",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = nnexp_cmd.runs()
    [parent] = [r for r in runs if r.data.tags.get("nnexp.kind") == "multirun"]
    jobs = [r for r in runs if r.data.tags.get("nnexp.kind") == "run"]
    assert sorted(r.info.run_name for r in jobs) == [
        "mlp-moons-adam-lr0.01-s0 model.activation=relu",
        "mlp-moons-adam-lr0.01-s0 model.activation=tanh",
    ]
    assert parent.data.tags["nnexp.swept"] == "model.activation"
    parent_id = parent.info.run_id
    line = (
        f"nnexp: multirun parent run {parent_id} in {nnexp_cmd.store_uri}; its jobs: "
        f"python -m nnexp runs --parent {parent_id[:8]}"
    )
    assert result.stdout.splitlines().count(line) == 2  # before the jobs and after them
    listed = nnexp_cmd.run("runs", "--parent", parent_id[:8])
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == ["run", "name", "activation"]


def test_help_lists_the_subcommands_and_a_closed_pipe_exits_quietly(tmp_path):
    env = nnexp_env()
    result = subprocess.run(
        [sys.executable, "-m", "nnexp", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    from nnexp.cli import SUBCOMMANDS

    for name in SUBCOMMANDS:  # every subcommand, confirm included
        assert re.search(rf"^  python -m nnexp {name}\b", result.stdout, re.M), name
    # `python -m nnexp --help | head -3`: the reader is gone before nnexp writes
    for args in (["--help"], ["seed=0", "--help"], ["--cfg", "job"]):
        reader, writer = os.pipe()
        os.close(reader)
        closed = subprocess.run(
            [sys.executable, "-m", "nnexp", *args],
            cwd=tmp_path,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
        os.close(writer)
        assert closed.stderr == "", (args, closed.stderr)
        assert closed.returncode == 141, args


@pytest.mark.slow
def test_a_sweep_whose_reader_goes_away_finishes_and_is_recorded(tmp_path):
    """``python -m nnexp +sweep=lr 2>&1 | head -2``: stdout and stderr are one pipe whose reader
    is gone. A run then keeps training and is recorded (README); a sweep must too, confirm phase
    included (its lines go to stderr: the first one ended the sweep, exit 141, parent FAILED
    after one confirm run)."""
    import mlflow

    reader, writer = os.pipe()
    os.close(reader)
    sweep = ["+sweep=lr", "sweep.n_trials=2", "sweep.confirm.top_k=1", "sweep.confirm.seeds=2"]
    result = subprocess.run(
        [sys.executable, "-m", "nnexp", *sweep, *QUICK],
        cwd=tmp_path,
        stdout=writer,
        stderr=writer,
        env=nnexp_env(),
        timeout=300,
    )
    os.close(writer)
    assert result.returncode == 0
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name == "nnexp"]
    runs = client.search_runs([experiment.experiment_id])
    kinds = sorted(r.data.tags.get("nnexp.kind", "") for r in runs)
    assert kinds == ["confirm"] * 4 + ["sweep"] + ["trial"] * 2
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_cfg_job_prints_the_composed_config_and_runs_nothing(tmp_path):
    import yaml

    def cfg_job(*args):
        result = subprocess.run(
            [sys.executable, "-m", "nnexp", *args, "--cfg", "job"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=nnexp_env(),
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return yaml.safe_load(result.stdout)

    cfg = cfg_job("optimizer=sgd", "optimizer.lr=0.5")
    assert cfg["optimizer"]["name"] == "sgd" and cfg["optimizer"]["lr"] == 0.5
    assert cfg["model"]["hidden_sizes"] == [16, 16] and "hydra" not in cfg
    assert cfg["sweep"] is None  # filled only by +sweep=NAME
    sweep = cfg_job("+sweep=lr")["sweep"]
    assert sweep["name"] == "lr" and sweep["space"]["lr"]["key"] == "optimizer.lr"
    assert list(tmp_path.iterdir()) == []  # no store, no run, no Hydra output folder


def test_nnexp_traceback_shows_the_traceback_before_the_one_line(tmp_path):
    def bad(env):
        return subprocess.run(
            [sys.executable, "-m", "nnexp", "optimizer.lr=abc"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    plain = bad(nnexp_env())
    assert plain.returncode == 2
    assert plain.stderr.splitlines() == [
        "nnexp: error: optimizer.lr=abc: Value 'abc' of type 'str' could not be converted to Float"
    ]
    traced = bad({**nnexp_env(), "NNEXP_TRACEBACK": "1"})
    assert traced.returncode == 2
    lines = traced.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert any("omegaconf" in line for line in lines)  # where the conversion failed
    assert lines[-1] == plain.stderr.splitlines()[0]
