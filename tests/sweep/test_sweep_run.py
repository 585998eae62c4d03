"""Sweeps end to end, in this process, on tiny data; everything read back with MlflowClient."""

from __future__ import annotations

import csv
import math
import shlex

import optuna
import pytest
from optuna.trial import TrialState

from nnexp.config.compose import compose_config
from nnexp.run import run_experiment
from nnexp.sweep.orphans import WORKER_ATTR

NO_MODEL = "sweep.log_model=none"


def test_eight_trial_lr_sweep_gives_eight_children_under_one_parent(bench, capsys) -> None:
    summary = bench.run("lr", "sweep.n_trials=8", "sweep.pruner.name=none")
    parents, children = bench.parents_and_children()
    assert len(parents) == 1 and len(children) == 8
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}

    study = bench.study("lr")
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    by_number = {int(c.data.tags["trial_number"]): c for c in children}
    assert sorted(by_number) == list(range(8))
    for trial in trials:
        child = by_number[trial.number]
        lr = trial.params["lr"]
        assert 1e-4 <= lr <= 3.0
        assert float(child.data.params["optimizer.lr"]) == pytest.approx(lr, rel=1e-12)
        assert float(child.data.tags["trial.param.lr"]) == pytest.approx(lr, rel=1e-12)
        assert child.data.tags["trial_state"] == "COMPLETE"
        assert child.data.tags["trial_seed"] == str(trial.number)  # base seed 0
        assert child.data.params["seed"] == str(trial.number)
        assert child.data.params["data.seed"] == "0"  # the base seed: one split for all
        assert child.data.metrics["best_val_loss"] == pytest.approx(trial.value)
        assert f"optimizer.lr={lr!r}" in child.data.tags["overrides"]
        assert child.data.tags["command"].startswith("python -m nnexp ")
        assert child.info.status == "FINISHED"

    # metric points of the first, every fifth (sweep.log_every) and the last epoch
    client = bench.client()
    for child in children:
        steps = sorted(m.step for m in client.get_metric_history(child.info.run_id, "val_loss"))
        last = int(child.data.metrics["epochs_run"])
        assert steps == sorted({1, *range(5, last + 1, 5), last}), steps
    # different initialisations, one validation split
    assert len({c.data.tags["data.fingerprint.val"] for c in children}) == 1

    best = study.best_trial
    assert summary["best_trial"] == best.number
    assert summary["best_run_id"] == by_number[best.number].info.run_id
    assert parent.data.tags["best_run_id"] == summary["best_run_id"]
    assert float(parent.data.tags["best.lr"]) == pytest.approx(best.params["lr"])
    assert parent.data.metrics["best_value"] == pytest.approx(best.value)
    # the full model only for the best trial
    with_model = [c for c in children if c.data.tags.get("model_uri")]
    assert [c.info.run_id for c in with_model] == [summary["best_run_id"]]
    assert with_model[0].data.tags["model_run_uri"] == f"runs:/{summary['best_run_id']}/model"

    client = bench.client()
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"trials.csv", "best.json", "sweep.yaml", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    from nnexp import plot_helper

    assert plot_helper._helper is not None and not plot_helper._broken  # drawn in the helper
    assert {
        "plots/optimization_history.png",
        "plots/train_vs_val_lr.png",
        "plots/intermediate_values.png",
        "plots/parallel_coordinate.png",
    } <= plots
    table = client.download_artifacts(parent.info.run_id, "trials.csv", str(bench.workdir))
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {r["state"] for r in rows} == {"COMPLETE"}

    out = capsys.readouterr().out
    assert "8 trials (8 complete, 0 pruned, 0 failed)" in out
    assert f"re-run it: {summary['best_command']}" in out
    # the summary names the metric; the optuna study carries it too (dashboards show it)
    assert f"  best best_val_loss = {best.value:.4g} (trial {best.number})" in out.splitlines()
    assert any(line.split()[:3] == ["#", "best_val_loss", "state"] for line in out.splitlines())
    assert study.metric_names == ["best_val_loss"]
    # not a terminal: one plain line per trial, with its value, params and the best so far
    lines = [line for line in out.splitlines() if line.startswith("nnexp: trial ")]
    assert len(lines) == 8
    running_best = math.inf
    for trial, line in zip(trials, lines, strict=True):
        running_best = min(running_best, trial.value)
        leader = min((t for t in trials[: trial.number + 1]), key=lambda t: t.value)
        assert line.startswith(
            f"nnexp: trial {trial.number}/8 COMPLETE  best_val_loss {trial.value:.4g}  "
            f"lr={trial.params['lr']:.4g}  ("
        ), line
        assert line.endswith(f"best so far {running_best:.4g} (trial {leader.number})"), line

    # pasting the best override line re-creates the trial exactly
    overrides = shlex.split(summary["best_overrides"])
    assert by_number[best.number].data.tags["overrides"] == summary["best_overrides"]
    rerun = run_experiment(compose_config([*overrides, "tracking=off"]), progress=False)
    assert rerun.final_metrics["best_val_loss"] == best.value


def new_journal_study(bench, name: str) -> optuna.Study:
    """The study a sweep named ``name`` will use (its default journal), created ahead of it."""
    folder = bench.workdir / "mlruns" / "optuna"
    folder.mkdir(parents=True)
    backend = optuna.storages.journal.JournalFileBackend(str(folder / f"{name}.journal"))
    storage = optuna.storages.journal.JournalStorage(backend)
    return optuna.create_study(study_name=name, storage=storage)


def test_pruner_prunes_a_hopeless_trial(bench, capsys) -> None:
    study = new_journal_study(bench, "prune")
    for lr in (0.05, 0.02, 1e-4):  # two that learn, then one that cannot in 12 epochs
        study.enqueue_trial({"lr": lr})
    bench.run(
        "lr",
        "sweep.study_name=prune",
        "sweep.n_trials=3",
        "sweep.report_every=1",
        "trainer.epochs=12",
        "sweep.pruner.name=median",
        NO_MODEL,
        "sweep.pruner.args={n_startup_trials:2,n_warmup_steps:3,interval_steps:1}",
    )
    trials = bench.study("prune").get_trials()
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.PRUNED,
    ]
    pruned = trials[2]
    assert pruned.params["lr"] == 1e-4
    assert max(pruned.intermediate_values) < 12  # stopped early
    run = next(c for c in bench.parents_and_children()[1] if c.data.tags["trial_number"] == "2")
    assert run.info.status == "FINISHED"  # not a crash
    assert run.data.tags["trial_state"] == "PRUNED"
    # it stopped at the epoch of its last report: that is its last logged epoch
    pruned_at = max(pruned.intermediate_values)
    history = bench.client().get_metric_history(run.info.run_id, "val_loss")
    assert max(point.step for point in history) == pruned_at < 12
    assert "epochs_run" not in run.data.metrics  # a pruned run stops before its final metrics
    assert run.data.tags["trial_pruned_epoch"] == str(pruned_at)
    reported = pruned.intermediate_values[pruned_at]
    assert float(run.data.tags["trial_reported_value"]) == reported
    out = capsys.readouterr().out
    # the objective is best_val_loss: Optuna was told the best val_loss so far, not the epoch's
    assert reported == min(p.value for p in history if p.step <= pruned_at)
    told = f"pruned at epoch {pruned_at} (best val_loss so far {reported:.4g})"
    assert f"nnexp: trial 2/3 PRUNED  {told}" in out
    summary_row = ["2", f"{reported:.4g}", f"PRUNED@{pruned_at}", "0.0001"]
    assert any(line.split()[:4] == summary_row for line in out.splitlines()), out

    # `runs --parent` shows its last reported value and the epoch it was pruned at, not "-"
    from nnexp.commands.runs import main as runs_main

    parent_id = run.data.tags["mlflow.parentRunId"]
    assert runs_main(["--parent", parent_id, "--tracking-uri", bench.store_uri]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    assert header[:3] == ["run", "name", "lr"]  # the swept key first
    row = next(line.split() for line in lines if line.startswith(run.info.run_id[:8]))
    assert row[1] == "prune-2" and row[-1] == f"PRUNED@{pruned_at}"
    cells = dict(zip(header, row, strict=False))
    assert cells["best_val"] == f"{reported:.4g}"
    assert cells["final_val"] == f"{history[-1].value:.4g}"


def test_diverging_trial_is_recorded_and_the_sweep_goes_on(bench) -> None:
    study = new_journal_study(bench, "lr")
    for lr in (0.01, 3.0, 0.02):  # plain SGD on a regression at lr=3 blows up
        study.enqueue_trial({"lr": lr})
    summary = bench.run(
        "lr", "sweep.study_name=lr", "data=sine", "optimizer=sgd", "sweep.n_trials=3", NO_MODEL
    )
    trials = bench.study("lr").get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].user_attrs["fail_reason"].startswith("diverged:")
    assert summary["best_trial"] in (0, 2) and math.isfinite(summary["best_values"][0])
    run = next(c for c in bench.parents_and_children()[1] if c.data.tags["trial_number"] == "1")
    assert run.info.status == "FINISHED"
    assert run.data.tags["diagnosis"] == "diverged"
    assert run.data.tags["trial_state"] == "FAIL"
    assert run.data.tags["trial_fail_reason"].startswith("diverged:")


def test_resume_stops_at_the_total(bench) -> None:
    bench.run("lr", "sweep.n_trials=3", NO_MODEL)
    bench.run("lr", "sweep.n_trials=5", NO_MODEL)
    bench.run("lr", "sweep.n_trials=5", NO_MODEL)
    parents, children = bench.parents_and_children()
    assert len(parents) == 1 and len(children) == 5
    assert len(bench.study("lr").get_trials()) == 5
    assert len({c.data.tags["trial.param.lr"] for c in children}) == 5  # no re-drawn values


def test_resuming_with_a_different_sweep_is_refused(bench) -> None:
    from nnexp.errors import ConfigError

    bench.run("lr", "sweep.study_name=lr", "sweep.n_trials=1", "tracking=off")
    journal = bench.workdir / "mlruns" / "optuna" / "lr.journal"
    with pytest.raises(ConfigError) as refused:
        bench.run("lr", "sweep.study_name=lr", "sweep.n_trials=2", "data=circles", "tracking=off")
    message = str(refused.value)
    assert message.startswith(f"study 'lr' in {journal} was started with other base overrides")
    # it names what the study has (not the new data=circles) and no object repr
    assert "(it has base overrides: data.n_samples=100 trainer.epochs=10" in message
    assert "data=circles" not in message and "object at 0x" not in message


def test_same_seed_same_sampled_params(bench, tmp_path_factory, monkeypatch) -> None:
    def params(folder) -> list[float]:
        monkeypatch.chdir(folder)
        other = type(bench)(folder)
        other.run(
            "lr",
            "sweep.n_trials=6",
            "tracking=off",
            "trainer.epochs=3",
            "sweep.sampler.args={n_startup_trials:3}",
        )
        study = other.study("lr")
        return [t.params["lr"] for t in study.get_trials()]

    first = params(tmp_path_factory.mktemp("a"))
    second = params(tmp_path_factory.mktemp("b"))
    assert len(first) == 6 and first == second
    assert len(set(first)) == 6


def test_orphaned_trial_is_failed_requeued_and_its_run_killed(bench) -> None:
    """A RUNNING trial whose worker is gone (simulated in-process; the CLI test uses kill -9)."""
    from nnexp.sweep.orphans import worker_identity

    bench.run("lr", "sweep.n_trials=1", NO_MODEL)
    study = bench.study("lr")
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 3.0, log=True)})
    dead = worker_identity() | {"pid": 2**22 + 12345}
    trial.set_user_attr(WORKER_ATTR, dead)
    client = bench.client()
    parent = bench.parents_and_children()[0][0]
    orphan_run = client.create_run(
        parent.info.experiment_id,
        tags={
            "nnexp.study": study.study_name,
            "trial_number": str(trial.number),
            "mlflow.parentRunId": parent.info.run_id,
        },
    )
    bench.run("lr", "sweep.n_trials=2", NO_MODEL)
    trials = bench.study("lr").get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].user_attrs["fail_reason"].startswith("orphaned: worker pid")
    assert trials[2].user_attrs["nnexp.retry_of"] == 1
    assert trials[2].params["lr"] == trials[1].params["lr"]
    retry_run = next(
        c for c in bench.parents_and_children()[1] if c.data.tags["trial_number"] == "2"
    )
    assert retry_run.data.tags["trial_seed"] == "1"  # the orphan's seed
    assert retry_run.data.tags["trial_retry_of"] == "1"
    assert client.get_run(orphan_run.info.run_id).info.status == "KILLED"


def test_a_trial_asked_but_never_claimed_is_failed_and_requeued(bench) -> None:
    """SIGKILL between ``study.ask()`` and the claim (both inside the sweep lock) leaves a
    RUNNING trial with no worker: the next launch fails it and runs it again."""
    bench.run("lr", "sweep.n_trials=1", NO_MODEL)
    bench.study("lr").ask({"lr": optuna.distributions.FloatDistribution(1e-4, 3.0, log=True)})
    bench.run("lr", "sweep.n_trials=2", NO_MODEL)
    trials = bench.study("lr").get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].user_attrs["fail_reason"] == "orphaned: its worker died before claiming it"
    assert trials[2].user_attrs["nnexp.retry_of"] == 1
    assert trials[2].params["lr"] == trials[1].params["lr"]


def test_two_parameter_sweep_plots_importances_and_list_choices(bench) -> None:
    bench.run("arch", "sweep.n_trials=6", "sweep.pruner.name=none", NO_MODEL)
    parent, children = bench.parents_and_children()
    plots = {a.path for a in bench.client().list_artifacts(parent[0].info.run_id, "plots")}
    assert {
        "plots/param_importances.png",
        "plots/train_vs_val_hidden_sizes.png",
        "plots/train_vs_val_lr.png",
    } <= plots
    for child in children:
        sizes = child.data.tags["trial.param.hidden_sizes"]  # e.g. [64,64]
        assert child.data.params["model.hidden_sizes"] == sizes.replace(",", ", ")
        assert f"'model.hidden_sizes={sizes}'" in child.data.tags["overrides"]


def test_multi_objective_sweep_keeps_the_pareto_front(bench) -> None:
    summary = bench.run(
        "lr",
        "sweep.n_trials=4",
        "tracking=off",
        "sweep.pruner.name=none",
        "sweep.metrics=[best_val_loss,final_train_loss]",
        "sweep.directions=[minimize,maximize]",
    )
    study = bench.study("lr")
    assert len(study.directions) == 2
    assert all(len(t.values) == 2 for t in study.get_trials())
    front = {t.number for t in study.best_trials}
    assert summary["best_trial"] in front
    assert summary["pareto_trials"] is None or set(summary["pareto_trials"]) == front
