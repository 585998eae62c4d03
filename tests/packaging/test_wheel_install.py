"""nnexp installed from its wheel (not a checkout) runs, sweeps and takes a user's configs.

The wheel is built from a copy of this checkout as ``pip wheel .`` builds it (no build isolation:
the index is not needed), installed non-editable into a fresh virtualenv that sees the system's
packages for the heavy dependencies (``--no-index``: nothing is downloaded, every declared
dependency must already be there), and every command runs from an empty folder with no
``PYTHONPATH``, so the checkout cannot leak in (checked: ``nnexp`` is the venv's copy).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from nnexp_testing import nnexp_env, write_user_configs
from venvs import create_venv, pip_install

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
QUICK = ["data.n_samples=120", "trainer.epochs=4", "trainer.progress=false"]


def _outside_env() -> dict[str, str]:
    return {k: v for k, v in nnexp_env().items() if k != "PYTHONPATH"}


def _copy_checkout(destination: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git", "mlruns", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "results"
    )
    return Path(shutil.copytree(REPO, destination, ignore=ignore))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = _copy_checkout(tmp_path_factory.mktemp("wheel-build") / "nnexp")
    dist = source.parent / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(dist),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env=_outside_env(),
    )
    (built,) = dist.glob("nnexp-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel-venv") / "venv"
    python = create_venv(folder, system_site_packages=True)
    pip_install(python, "--no-index", str(wheel))
    return folder


def _nnexp(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "nnexp"), *args],
        cwd=cwd,
        env=_outside_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_wheel_holds_every_config_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, packaged in (("conf", "nnexp/_conf"), ("experiments", "nnexp/_experiments")):
        yaml_files = sorted((REPO / folder).rglob("*.yaml"))
        assert yaml_files
        for path in yaml_files:
            assert f"{packaged}/{path.relative_to(REPO / folder).as_posix()}" in names


def test_installed_nnexp_is_the_venvs_and_finds_its_packaged_configs(venv, tmp_path):
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import nnexp, nnexp.config.store as s; print(nnexp.__file__); print(s.CONF_DIR); "
            "print(s.EXPERIMENTS_DIR)",
        ],
        cwd=tmp_path,
        env=_outside_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    package, conf, experiments = (Path(line) for line in result.stdout.split())
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert package == site / "site-packages" / "nnexp" / "__init__.py"
    assert conf == package.parent / "_conf" and (conf / "config.yaml").is_file()
    assert experiments == package.parent / "_experiments"

    packaged = _nnexp(venv, tmp_path, "+experiment=seed_xor", "--cfg", "job")
    assert packaged.returncode == 0, packaged.stderr
    assert "name: tutorial_221" in packaged.stdout and "name: xor" in packaged.stdout


def test_a_run_from_an_empty_folder_is_recorded(venv, tmp_path):
    from mlflow import MlflowClient

    result = _nnexp(venv, tmp_path, *QUICK)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("nnexp").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.epochs"] == "4" and run.data.params["data.name"] == "moons"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [1, 2, 3, 4]
    assert run.data.tags["model_uri"].startswith("models:/m-")


@pytest.mark.parametrize("how", ["hydra.searchpath", "--config-dir"])
def test_a_users_config_folder_joins_through_the_search_path(venv, tmp_path, how):
    configs = write_user_configs(tmp_path / "my-configs")
    work = tmp_path / "work"
    work.mkdir()
    where = (
        [f"hydra.searchpath=[file://{configs}]"]
        if how == "hydra.searchpath"
        else ["--config-dir", str(configs)]
    )
    result = _nnexp(venv, work, *where, "model=my_net", "+experiment=mine", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "hidden_sizes:\n  - 7\n  - 5" in result.stdout
    assert "name: circles" in result.stdout and "lr: 0.0123" in result.stdout


def test_a_sweep_from_an_empty_folder_with_the_users_model(venv, tmp_path):
    """Every trial composes with the user's search path (a model only their folder has)."""
    from mlflow import MlflowClient

    configs = write_user_configs(tmp_path / "my-configs")
    work = tmp_path / "work"
    work.mkdir()
    result = _nnexp(
        venv,
        work,
        f"hydra.searchpath=[file://{configs}]",
        "model=my_net",
        "+sweep=lr",
        "sweep.n_trials=2",
        "sweep.confirm.top_k=0",
        *QUICK,
    )
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("nnexp").experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(children) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {r.data.tags["trial_state"] for r in children} <= {"COMPLETE", "PRUNED"}
    assert {r.data.params["model.hidden_sizes"] for r in children} == {"[7, 5]"}
    assert {r.data.params["model.name"] for r in children} == {"my_net"}


def test_an_editable_install_reads_the_checkouts_folders(tmp_path):
    """``pip install -e .`` (the README's and CI's install) keeps using the checkout's
    ``conf/`` and ``experiments/``: an edit there takes effect without reinstalling."""
    source = _copy_checkout(tmp_path / "nnexp")
    python = create_venv(tmp_path / "venv", system_site_packages=True)
    # the venv's bundled setuptools (65) is older than the build needs: build with the system's
    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pip_install(python, "--no-index", "--no-deps", "--no-build-isolation", "-e", str(source))
    (source / "conf" / "model" / "edited.yaml").write_text(
        "name: edited\nhidden_sizes: [3]\nactivation: tanh\ninit: xavier_uniform\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [
            str(python),
            "-c",
            "import nnexp.config.store as s; print(s.CONF_DIR); print(s.EXPERIMENTS_DIR)",
        ],
        cwd=work,
        env=_outside_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(source / "conf"), str(source / "experiments")]
    edited = _nnexp(tmp_path / "venv", work, "model=edited", "--cfg", "job")
    assert edited.returncode == 0, edited.stderr
    assert "name: edited" in edited.stdout
