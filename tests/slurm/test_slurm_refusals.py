"""``sweep.launcher=slurm`` refuses, with one line and exit 2 before anything is created or
submitted, what the nodes could not share or what would do nothing (no Slurm needed)."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest
from nnexp_testing import NnexpCommand

from nnexp.launch.sbatch import sbatch_args
from nnexp.launch.slurm_sweep import worker_command

PG = "sweep.storage=postgresql+psycopg://nnexp:s3cret@127.0.0.1:9/optuna"
SERVER = ["tracking=server", "tracking.uri=http://127.0.0.1:9"]
CASES = {
    "journal": (
        [*SERVER],
        "sweep.storage (default: ",
        "is a file on this machine, which Slurm jobs on other nodes cannot share: use a "
        "PostgreSQL study (sweep.storage=postgresql+psycopg://..., README 'Scale out'), or "
        "launcher.shared_filesystem=true if every node mounts this path",
    ),
    "sqlite_study": (
        ["sweep.storage=sqlite:///study.db", *SERVER],
        "sweep.storage=sqlite:///study.db is a file on this machine",
        "launcher.shared_filesystem=true",
    ),
    "sqlite_tracking": (
        [PG],
        "mlflow.db is a local MLflow store, which Slurm jobs on "
        "other nodes cannot share: use an MLflow server (tracking=server "
        "tracking.uri=http://HOST:PORT, README 'Scale out'), or launcher.shared_filesystem=true",
        "",
    ),
    "bad_launcher": (
        [PG, *SERVER, "sweep.launcher=slurmm"],
        "sweep.launcher='slurmm' is invalid: valid choices: local, slurm",
        "",
    ),
    "bad_extra_arg": (
        [PG, *SERVER, "launcher.extra_args=['gres=gpu:1']"],
        "launcher.extra_args entry 'gres=gpu:1' is invalid: each is one sbatch flag",
        "",
    ),
    "export_in_extra_args": (  # the workers' command travels in the environment
        [PG, *SERVER, "launcher.extra_args=['--export=NONE']"],
        "launcher.extra_args entry '--export=NONE' is refused: the workers get their command",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_with_one_line_before_anything_exists(tmp_path, case) -> None:
    extra, first, second = CASES[case]
    launcher = [] if case == "bad_launcher" else ["sweep.launcher=slurm"]
    result = NnexpCommand(tmp_path).run("+sweep=lr", *launcher, *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if case == "sqlite_tracking":  # the project's default store, by its absolute path
        assert lines[0].startswith("nnexp: error: tracking.uri=sqlite:///"), lines[0]
        assert first in lines[0], lines[0]
    else:
        assert lines[0].startswith("nnexp: error: " + first), lines[0]
    assert second in lines[0]
    assert "s3cret" not in result.stderr + result.stdout
    assert not (tmp_path / "mlruns").exists()  # no store, study, job script or output


def test_launcher_options_without_slurm_are_refused(tmp_path) -> None:
    result = NnexpCommand(tmp_path).run("+sweep=lr", "launcher.partition=gpu", "tracking=off")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "nnexp: error: launcher.partition=gpu has no effect with sweep.launcher=local (the "
        "workers are processes on this machine): add sweep.launcher=slurm, or drop it"
    )
    assert not (tmp_path / "mlruns").exists()


def test_shared_filesystem_lets_local_files_through_to_slurm(tmp_path) -> None:
    """With the opt-in, the local stores pass; here without sbatch on PATH, which is then said."""
    command = NnexpCommand(tmp_path)
    empty = tmp_path / "no-slurm"
    empty.mkdir()
    command.env = lambda: {**os.environ, "PATH": str(empty)}  # type: ignore[method-assign]
    result = command.run("+sweep=lr", "sweep.launcher=slurm", "launcher.shared_filesystem=true")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "nnexp: error: sweep.launcher=slurm needs Slurm's sbatch on PATH, and it is not found: "
        "run the command on a Slurm login node (or sweep.launcher=local)"
    )


def test_worker_command_is_the_sweep_as_one_local_worker() -> None:
    overrides = [
        "+sweep=lr",
        "sweep.workers=16",
        "sweep.launcher=slurm",
        "launcher.partition=gpu",
        "launcher=slurm",
        "optimizer.lr=0.1",
        PG,
    ]
    assert worker_command(overrides) == [
        sys.executable,
        "-m",
        "nnexp",
        "+sweep=lr",
        "optimizer.lr=0.1",
        PG,
        "sweep.workers=1",
        "sweep.launcher=local",
    ]


def test_sbatch_options_come_from_the_launcher_group(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    launcher = SimpleNamespace(
        partition="gpu",
        time="01:30:00",
        cpus_per_task=2,
        mem="4G",
        account=None,
        qos="",
        extra_args=["--gres=gpu:1"],
    )
    assert sbatch_args(launcher, 16, "nnexp-lr", tmp_path / "out") == [
        "--parsable",
        "--array=0-15",
        "--job-name=nnexp-lr",
        f"--output={tmp_path / 'out'}/%A_%a.out",
        f"--chdir={tmp_path}",
        "--export=ALL",  # the worker command is in the environment, whatever SBATCH_EXPORT says
        "--cpus-per-task=2",
        "--ntasks=1",
        "--partition=gpu",
        "--time=01:30:00",
        "--mem=4G",
        "--gres=gpu:1",
    ]
