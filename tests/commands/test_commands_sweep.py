"""The commands on a real Optuna sweep made by ``python -m nnexp +sweep=lr``: trials are runs."""

from __future__ import annotations

import pytest

SWEEP = [
    "+sweep=lr",
    "sweep.study_name=lr",  # the default name would carry a digest of the overrides below
    "sweep.n_trials=2",
    "sweep.log_model=none",
    "sweep.confirm.top_k=0",
    "data.n_samples=120",
    "trainer.epochs=6",
    "trainer.progress=false",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, cli):
    """``(workdir, parent, trials)`` after a 2-trial sweep in a fresh working directory."""
    from mlflow import MlflowClient

    workdir = tmp_path_factory.mktemp("sweep")
    made = cli(workdir, *SWEEP)
    assert made.returncode == 0, made.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("nnexp").experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("nnexp.kind") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("nnexp.kind") == "trial"]
    assert len(trials) == 2
    return workdir, parent, trials


def in_workdir(monkeypatch, workdir, name, *args):
    """Run a command the way a user does: in the working directory, with the default store."""
    import importlib

    monkeypatch.chdir(workdir)
    return importlib.import_module(f"nnexp.commands.{name}").main(list(args))


def test_every_sweep_trial_reproduces_bit_for_bit(sweep, monkeypatch, capsys):
    workdir, parent, trials = sweep
    for trial in trials:
        assert trial.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert in_workdir(monkeypatch, workdir, "reproduce", trial.info.run_id) == 0
        out = capsys.readouterr().out
        number = trial.data.tags["trial_number"]
        assert f"trial {number} of sweep lr" in out
        # sweep.log_every=5: epochs 1, 5, 6; losses, accuracies, lr and 17 layer statistics
        assert "22 per-epoch metrics x 3 epochs" in out
        assert "result: bit-identical" in out


def test_runs_of_a_sweep_show_the_sampled_lr(sweep, monkeypatch, capsys):
    workdir, parent, trials = sweep
    assert in_workdir(monkeypatch, workdir, "runs", "--parent", parent.info.run_id[:8]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"runs of sweep {parent.info.run_id[:8]} (sweep lr)")
    header = lines[1].split()
    # the swept lr first, then the per-trial seed (set on each trial's override line)
    assert header[:4] == ["run", "name", "lr", "seed"]
    rows = lines[2:4]
    assert {row.split()[0] for row in rows} == {t.info.run_id[:8] for t in trials}
    assert {row.split()[1] for row in rows} == {t.info.run_name for t in trials}
    assert all(row.split()[-1] == "COMPLETE" for row in rows)


def test_experiment_table_lists_the_sweep_as_a_parent(sweep, monkeypatch, capsys):
    workdir, parent, _ = sweep
    assert in_workdir(monkeypatch, workdir, "runs") == 0
    out = capsys.readouterr().out
    assert f"  {parent.info.run_id[:8]}  sweep     FINISHED  sweep lr" in out


def test_compare_sweep_trials(sweep, monkeypatch, capsys):
    workdir, _, trials = sweep
    ids = [t.info.run_id for t in trials]
    assert in_workdir(monkeypatch, workdir, "compare", *ids) == 0
    out = capsys.readouterr().out
    png = workdir / "mlruns" / f"compare-{ids[0][:8]}-{ids[1][:8]}.png"
    assert f"learning curves: {png.relative_to(workdir)}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "optimizer.lr" in out


def test_parent_has_its_best_trials_decision_boundaries(sweep, monkeypatch, capsys):
    from mlflow import MlflowClient

    workdir, parent, trials = sweep
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/best_decision_boundaries.png" in plots
    ids = [trial.info.run_id[:8] for trial in trials]
    out_png = workdir / "both.png"
    assert in_workdir(monkeypatch, workdir, "compare", *ids, "--output", str(out_png),
                      "--boundaries") == 0  # fmt: skip
    out = capsys.readouterr().out
    boundaries = workdir / "both-boundaries.png"
    assert f"decision boundaries: {boundaries}" in out
    assert boundaries.read_bytes()[:4] == b"\x89PNG"


def test_compare_a_sweep_parent_draws_its_trials_boundaries(sweep, monkeypatch, capsys):
    """A parent stands for its group: --boundaries draws its trials' boundaries (it rebuilt the
    parent as a training run and failed, after writing the curves)."""
    workdir, parent, trials = sweep
    out_png = workdir / "parent.png"
    parent_id = parent.info.run_id[:8]
    assert in_workdir(monkeypatch, workdir, "compare", parent_id, "--output", str(out_png),
                      "--boundaries") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert f"learning curves: {out_png}" in out
    boundaries = workdir / "parent-boundaries.png"
    assert f"decision boundaries: {boundaries}" in out
    png = boundaries.read_bytes()
    assert png[:4] == b"\x89PNG"
    # one panel per trial, side by side: 4.2 inches each and a 0.4 inch margin, at 90 dpi
    assert int.from_bytes(png[16:20], "big") == round((4.2 * len(trials) + 0.4) * 90)
