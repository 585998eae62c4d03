"""Sweeps with the user's config folder and primary config (outside testing, session 10).

The folder: ``model/my_net.yaml``, ``experiment/mine.yaml`` (circles), ``sweep/mysw.yaml`` and a
primary config ``myprimary.yaml`` (nnexp's ``config`` on circles, 4 epochs). Found: a sweep
composed its trials from nnexp's ``config`` whatever ``--config-name`` said, and its records
left the flag out; an extra worker (``sweep.workers=2``) was started without the folder, died on
``unknown option 'my_net'`` and the sweep still exited 0; an experiment file edited between two
launches of the same command resumed the study on other data without a word.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from nnexp_testing import nnexp_env, write_user_configs

QUICK = [
    "data.n_samples=200",
    "trainer.progress=false",
    "sweep.confirm.top_k=0",
    "sweep.pruner.name=none",
    "sweep.log_model=none",
]

MYSW = """# @package sweep
name: mysw
metric: best_val_loss
direction: minimize
n_trials: 2
sampler: {name: tpe, seed: 0}
pruner: {name: none}
space:
  lr: {key: optimizer.lr, type: float, low: 1.0e-3, high: 0.3, log: true}
"""

MYPRIMARY = """defaults:
  - config
  - override data: circles
  - _self_
trainer:
  epochs: 4
data:
  n_samples: 200
"""


@pytest.fixture
def myconf(tmp_path: Path) -> Path:
    folder = write_user_configs(tmp_path / "myconf")
    (folder / "sweep").mkdir()
    (folder / "sweep" / "mysw.yaml").write_text(MYSW)
    (folder / "myprimary.yaml").write_text(MYPRIMARY)
    return folder


def _trial_runs(bench) -> list:
    parents, children = bench.parents_and_children()
    assert len(parents) == 1
    return children


def _command_words(line: str) -> list[str]:
    from nnexp.cmdline import split_line

    return split_line(line)


@pytest.mark.slow  # CLI subprocesses with two workers
def test_config_name_reaches_every_trial_worker_and_recorded_line(bench, myconf) -> None:
    """``--config-dir D --config-name myprimary +sweep=lr sweep.workers=2``: every trial trained
    ``data.name=moons`` for 100 epochs (nnexp's ``config``), and the parent's ``command`` tag and
    the ``re-run it:`` line left out ``--config-name``."""
    flags = ["--config-dir", str(myconf), "--config-name", "myprimary"]
    done = bench.cli(
        *flags,
        "model=my_net",
        "+sweep=lr",
        "sweep.n_trials=4",
        "sweep.workers=2",
        "sweep.study_name=prim1",
        *QUICK,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exited with" not in done.stderr, done.stderr[-2000:]
    children = _trial_runs(bench)
    assert len(children) == 4
    for child in children:
        params = child.data.params
        assert (params["data.name"], params["trainer.epochs"]) == ("circles", "4")
        assert params["model.name"] == "my_net"
        assert _command_words(child.data.tags["command"])[3:7] == flags
    (parent,) = bench.parents_and_children()[0]
    assert _command_words(parent.data.tags["command"])[3:7] == flags
    (line,) = [x for x in done.stdout.splitlines() if x.strip().startswith("re-run it: ")]
    rerun = line.split("re-run it: ", 1)[1]
    assert _command_words(rerun)[3:7] == flags
    elsewhere = bench.workdir / "elsewhere"
    elsewhere.mkdir()
    shown = subprocess.run(
        ["bash", "-c", rerun + " --cfg job"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env=nnexp_env(),
    )
    assert shown.returncode == 0, shown.stderr
    assert "  name: circles\n" in shown.stdout and "  epochs: 4\n" in shown.stdout
    assert "  name: my_net\n" in shown.stdout


@pytest.mark.slow  # CLI subprocesses with two workers
def test_workers_get_the_search_path_and_the_users_sweep(bench, myconf) -> None:
    """``'hydra.searchpath=[file://D]' model=my_net +sweep=mysw sweep.workers=2``: the extra
    worker died with ``unknown option 'my_net' for 'model'`` and the sweep exited 0."""
    done = bench.cli(
        f"hydra.searchpath=[file://{myconf}]",
        "model=my_net",
        "+sweep=mysw",
        "sweep.n_trials=4",
        "sweep.workers=2",
        "trainer.epochs=5",
        *QUICK,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unknown option" not in done.stderr and "exited with" not in done.stderr
    children = _trial_runs(bench)
    assert len(children) == 4
    assert {c.data.params["model.hidden_sizes"] for c in children} == {"[7, 5]"}


def test_a_failed_worker_makes_the_sweep_exit_1(bench, monkeypatch) -> None:
    """A worker that exits non-zero while the others complete the study: the report is written
    and the parent ends FINISHED, but the sweep exits 1 naming the worker's exit code."""
    import sys

    import nnexp.sweep.workers as workers
    from nnexp.sweep.workers import WorkersFailed

    def failing_worker(overrides, count):
        return [subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])]

    monkeypatch.setattr(workers, "spawn_workers", failing_worker)
    with pytest.raises(WorkersFailed) as failed:
        bench.run("lr", "sweep.n_trials=2", "sweep.workers=2", "trainer.epochs=2", *QUICK)
    assert failed.value.exit_code == 1
    assert str(failed.value).startswith("sweep worker(s) exited with [3] ")
    assert "\n" not in str(failed.value)
    parents, children = bench.parents_and_children()
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert len(children) == 2


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_an_edited_experiment_file_is_refused_on_resume(bench, myconf) -> None:
    """``+experiment=mine +sweep=mysw``, then circles -> spirals in ``mine.yaml`` and the same
    command with ``sweep.n_trials=4``: trials 2-3 ran on spirals in the circles study. Now the
    resume is refused in one line before any trial; raising n_trials with the file as it was
    still resumes."""
    from nnexp.errors import ConfigError

    args = [f"hydra.searchpath=[file://{myconf}]", "+experiment=mine", "trainer.epochs=3", *QUICK]
    bench.run("mysw", *args, "sweep.n_trials=2")
    experiment = myconf / "experiment" / "mine.yaml"
    _edit(experiment, "override /data: circles", "override /data: spirals")
    with pytest.raises(ConfigError) as refused:
        bench.run("mysw", *args, "sweep.n_trials=4")
    message = str(refused.value)
    assert "\n" not in message
    assert "was started with other composed config (it has composed config: " in message
    assert "data.name=circles (now spirals)" in message
    assert message.endswith("or start a new study with sweep.study_name=NEW_NAME")
    (journal,) = (bench.workdir / "mlruns" / "optuna").glob("mysw*.journal")
    assert len(bench.study(journal.stem).get_trials()) == 2  # no trial asked
    assert len(bench.parents_and_children()[1]) == 2  # no MLflow run created
    _edit(experiment, "override /data: spirals", "override /data: circles")
    bench.run("mysw", *args, "sweep.n_trials=3")
    trials = bench.study(journal.stem).get_trials()
    assert len(trials) == 3
    assert {c.data.params["data.name"] for c in bench.parents_and_children()[1]} == {"circles"}


def test_a_study_stored_before_keeps_resuming_and_gains_its_composed_config(bench) -> None:
    """A study whose stored identity has no composed config (nnexp before this) resumes, and
    from then on holds it: a later edit is seen."""
    from nnexp.sweep.attrs import IDENTITY_ATTR

    args = ["sweep.n_trials=1", "trainer.epochs=2", "tracking=off", *QUICK]
    bench.run("lr", *args)
    study = bench.study("lr")
    legacy = {k: v for k, v in study.user_attrs[IDENTITY_ATTR].items() if k != "config"}
    study.set_user_attr(IDENTITY_ATTR, legacy)
    bench.run("lr", *args[1:], "sweep.n_trials=2")
    identity = bench.study("lr").user_attrs[IDENTITY_ATTR]
    assert identity["config"]["data.name"] == "moons"
    assert {k: v for k, v in identity.items() if k != "config"} == legacy
    assert len(bench.study("lr").get_trials()) == 2


def test_composed_identity_leaves_out_the_swept_keys_and_the_sweep_settings() -> None:
    from nnexp.config.compose import compose_config
    from nnexp.sweep.identity import composed_identity, identity_mismatch

    cfg = compose_config(["+sweep=lr", "data=circles"])
    identity = composed_identity(cfg, ("optimizer.lr",))
    assert identity["data.name"] == "circles" and identity["model.hidden_sizes"] == [16, 16]
    assert "optimizer.lr" not in identity and "optimizer.name" in identity
    assert not [k for k in identity if k.startswith(("sweep.", "tracking.", "launcher."))]
    assert "trainer.progress" not in identity
    # a study stored before the composed config was part of its identity still resumes
    assert identity_mismatch({"overrides": []}, {"overrides": [], "config": identity}) is None
    changed = {**identity, "data.noise": 0.3, "seed": 7, "trainer.epochs": 9, "model.dropout": 0.5}
    why = identity_mismatch({"config": identity}, {"config": changed})
    assert why == (
        "other composed config (it has composed config: data.noise=0.1 (now 0.3), "
        "model.dropout=0.0 (now 0.5), seed=0 (now 7) and 1 more key)"
    )


def test_a_multirun_checks_its_values_on_the_users_primary_config(myconf) -> None:
    """``-m --config-dir D --config-name myprimary data.factor=0.3,0.5``: the multirun's value
    check composed nnexp's ``config`` (moons) and refused ``data.factor`` (circles takes it)."""
    from hydra.core.plugins import Plugins

    from nnexp.config.store import CONF_DIR
    from nnexp.errors import ConfigError
    from nnexp.multirun_check import check_multirun_values

    Plugins.instance()  # registers Hydra's config sources, as in the running multirun
    sources = [
        SimpleNamespace(provider="hydra", schema="pkg", path="hydra.conf"),
        SimpleNamespace(provider="main", schema="file", path=str(CONF_DIR)),
        SimpleNamespace(provider="command-line", schema="file", path=str(myconf)),
        SimpleNamespace(provider="schema", schema="structured", path=""),
    ]
    check_multirun_values(["data.factor=0.3,0.5"], sources, "myprimary")
    with pytest.raises(ConfigError, match="data=moons does not take it"):
        check_multirun_values(["data.factor=0.3,0.5"], sources, "config")


@pytest.fixture
def in_job(myconf):
    """This process inside a Hydra job started with ``--config-dir D --config-name myprimary
    'hydra.searchpath=[file://D/extra]'`` (Hydra's own HydraConfig, as ``@hydra.main`` sets)."""
    from hydra.conf import ConfigSourceInfo, HydraConf
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from nnexp.config.store import CONF_DIR

    hydra = OmegaConf.structured(HydraConf)
    hydra.job.config_name = "myprimary"
    hydra.runtime.config_sources = [
        ConfigSourceInfo(provider=provider, schema=schema, path=path)
        for provider, schema, path in (
            ("hydra", "pkg", "hydra.conf"),
            ("main", "file", str(CONF_DIR)),
            ("command-line", "file", str(myconf)),
            ("schema", "structured", ""),
            ("hydra.searchpath in command-line", "file", "/d/extra"),
        )
    ]
    HydraConfig.instance().set_config(OmegaConf.create({"hydra": hydra}))
    yield myconf
    HydraConfig.instance().cfg = None


def test_slurm_and_local_workers_and_command_lines_carry_the_jobs_config_flags(
    in_job, monkeypatch
) -> None:
    """The Slurm launcher's worker command was rebuilt from the overrides alone, as the local
    workers' was: a user's config folder or primary config was unknown on the nodes."""
    import sys

    import nnexp.sweep.workers as workers
    from nnexp.cmdline import command_line
    from nnexp.launch.slurm_sweep import worker_command

    flags = ["--config-dir", str(in_job), "hydra.searchpath=['file:///d/extra']"]
    flags += ["--config-name", "myprimary"]
    overrides = ["+sweep=lr", "sweep.workers=4", "sweep.launcher=slurm", "model=my_net"]
    tail = ["+sweep=lr", "model=my_net", "sweep.workers=1"]
    assert worker_command(overrides) == [
        sys.executable,
        "-m",
        "nnexp",
        *flags,
        *tail,
        "sweep.launcher=local",
    ]
    started = []
    monkeypatch.setattr(workers.subprocess, "Popen", lambda command, **kw: started.append(command))
    workers.spawn_workers(overrides[:2] + overrides[3:], 1)
    assert started == [[sys.executable, "-m", "nnexp", *flags, *tail]]
    # a command the user typed keeps its own flags; the ones it lacks are added
    typed = ["-cn", "myprimary", "--config-dir=/elsewhere", "seed=1"]
    assert command_line(typed) == (
        "python -m nnexp 'hydra.searchpath=['\"'\"'file:///d/extra'\"'\"']' -cn myprimary "
        "--config-dir=/elsewhere seed=1"
    )


def test_a_space_may_choose_the_users_group_options(in_job) -> None:
    """``space: {model: {choices: [mlp, my_net]}}`` with ``--config-dir D``: refused with
    ``unknown option 'my_net' for config group 'model'`` (the check listed ``conf/`` only)."""
    from nnexp.sweep.validate import config_groups

    groups = config_groups()
    assert "my_net" in groups["model"] and "mlp" in groups["model"]
    assert "sweep" not in groups and "experiment" not in groups
