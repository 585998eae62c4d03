"""The confirm phase: the winners re-run over fresh seeds, intervals and paired tests that match
scipy on the values read back from MLflow, resume after a kill, and ``confirm PARENT_ID``."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.stats

CONFIRM = ["sweep.n_trials=4", "sweep.confirm.top_k=2", "sweep.confirm.seeds=3"]


def _confirm_children(bench) -> list:
    return [r for r in bench.runs() if r.data.tags.get("nnexp.kind") == "confirm"]


def _values(children, label: str, metric: str) -> list[float]:
    """The metric of ``label``'s confirm runs, ordered by seed (the pairing)."""
    runs = sorted(
        (r for r in children if r.data.tags["confirm.config"] == label),
        key=lambda r: int(r.data.tags["confirm.seed"]),
    )
    return [r.data.metrics[metric] for r in runs]


@pytest.mark.slow
def test_confirm_reruns_top_k_and_base_and_reports_intervals_that_match_scipy(bench):
    summary = bench.run("lr", *CONFIRM)
    parents, trials = bench.parents_and_children()
    children = _confirm_children(bench)
    assert len(parents) == 1 and len(trials) == 4
    # (2 configurations + the base config) x 3 seeds, all finished, under the one parent
    assert len(children) == 9
    assert {r.info.status for r in children} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert {r.data.tags["role"] for r in children} == {"confirm"}
    seeds = {int(r.data.tags["confirm.seed"]) for r in children}
    trial_seeds = {int(r.data.tags["trial_seed"]) for r in trials}
    assert len(seeds) == 3 and not seeds & trial_seeds  # fresh seeds, shared by every config
    # the data split stays the sweep's: one validation fingerprint for trials and confirm runs
    assert len({r.data.tags.get("data.val_fingerprint") for r in [*trials, *children]}) == 1

    report = summary["confirm"]
    study_best = sorted(
        (t for t in trials if t.data.tags["trial_state"] == "COMPLETE"),
        key=lambda r: float(r.data.tags["trial_value"]),
    )
    labels = [row["label"] for row in report["configs"]]
    assert labels[-1] == "base"
    assert labels[0] == f"trial {study_best[0].data.tags['trial_number']}"

    metric = "best_val_loss"
    means = {}
    for label in labels:
        values = _values(children, label, metric)
        row = next(r for r in report["configs"] if r["label"] == label)
        stats = row["stats"][metric]
        assert stats["n"] == 3
        assert stats["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert stats["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-10)
        low, high = scipy.stats.t.interval(
            0.95, 2, loc=np.mean(values), scale=scipy.stats.sem(values)
        )
        assert (stats["ci_low"], stats["ci_high"]) == pytest.approx((low, high), rel=1e-10)
        means[label] = stats["mean"]
    winner = min((label for label in labels if label != "base"), key=means.get)
    assert report["winner"] == winner
    parent = bench.client().get_run(parents[0].info.run_id)
    assert parent.data.tags["confirm.winner"] == winner
    assert parent.data.metrics[f"confirm_{metric}_mean"] == pytest.approx(means[winner])
    runner_up = next(label for label in labels if label not in (winner, "base"))
    for role, other in (("runner_up", runner_up), ("base", "base")):
        ref = scipy.stats.ttest_rel(
            _values(children, winner, metric), _values(children, other, metric)
        )
        assert parent.data.metrics[f"confirm_p_vs_{role}"] == pytest.approx(ref.pvalue, rel=1e-9)
    artifacts = {a.path for a in bench.client().list_artifacts(parent.info.run_id)}
    plots = {a.path for a in bench.client().list_artifacts(parent.info.run_id, "plots")}
    assert {"confirm.csv", "confirm.json"} <= artifacts
    assert "plots/confirm.png" in plots


@pytest.mark.slow
def test_a_killed_confirm_phase_resumes_to_exactly_top_k_times_seeds(bench):
    args = [*bench.overrides("lr", *CONFIRM), "trainer.epochs=40"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnexp", *args],
        cwd=bench.workdir,
        stdout=subprocess.PIPE,  # progress lines, confirm lines included, are on stdout
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env=bench.env(),
    )
    done = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("nnexp: confirm ") and " seed " in line:
            done += 1
            if done == 2:  # two confirm runs finished, the third is under way: kill -9
                time.sleep(0.3)
                os.killpg(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert done == 2 and proc.returncode == -signal.SIGKILL
    again = bench.cli(*args, timeout=400)
    assert again.returncode == 0, again.stderr
    children = _confirm_children(bench)
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert not [r for r in bench.runs() if r.info.status == "RUNNING"]
    pairs = [(r.data.tags["confirm.config"], r.data.tags["confirm.seed"]) for r in finished]
    assert len(pairs) == 9 and len(set(pairs)) == 9  # none missing, none run twice
    assert "confirmed over 3 seeds" in again.stdout


@pytest.mark.slow
def test_confirm_command_confirms_an_existing_sweep(bench):
    bench.run("lr", "sweep.n_trials=3")
    parents, _ = bench.parents_and_children()
    assert not _confirm_children(bench)
    parent_id = parents[0].info.run_id
    result = bench.cli(
        "confirm",
        parent_id[:8],
        "--top-k",
        "2",
        "--seeds",
        "2",
        "--tracking-uri",
        bench.store_uri,
    )
    assert result.returncode == 0, result.stderr
    assert "sweep.confirm.top_k=2" in result.stdout
    children = _confirm_children(bench)
    assert len(children) == (2 + 1) * 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent_id}
    assert len(bench.parents_and_children()[1]) == 3  # no new search trial
    assert bench.client().get_run(parent_id).data.tags["confirm.winner"].startswith("trial ")


SMALL = ["sweep.n_trials=3", "data.n_samples=200", "trainer.epochs=5", "sweep.log_model=none"]


def _pairs(bench) -> list[tuple[str, str]]:
    return [
        (r.data.tags["confirm.config"], r.data.tags["confirm.seed"])
        for r in _confirm_children(bench)
    ]


@pytest.mark.slow
def test_later_confirm_phases_leave_nothing_stale_and_reuse_the_runs_they_share(bench, capsys):
    """Regressions: after ``--top-k 2`` then ``--top-k 1`` the parent still had the first
    phase's ``confirm_p_vs_runner_up`` and tag ``confirm.vs_runner_up`` (naming, once the
    winner changed, the winner itself); and a phase re-ran the (trial, seed) runs an earlier
    phase had made, which ``runs --group-by`` then counted twice (n=6 for 4 distinct runs).
    One sweep, three phases (one test: each phase builds on the previous one's store)."""
    first = bench.run("lr", *SMALL, "sweep.confirm.top_k=2", "sweep.confirm.seeds=2")
    parent_id = bench.parents_and_children()[0][0].info.run_id
    client = bench.client()
    assert "confirm_p_vs_runner_up" in client.get_run(parent_id).data.metrics
    assert "confirm.vs_runner_up" in client.get_run(parent_id).data.tags
    first_runs = _confirm_children(bench)
    assert len(first_runs) == (2 + 1) * 2

    # phase 2, fewer configurations: no runner-up left on the parent, no run made again
    second = bench.run("lr", *SMALL, "sweep.confirm.top_k=1", "sweep.confirm.seeds=2")
    report = second["confirm"]
    assert [c["role"] for c in report["comparisons"]] == ["base"]
    parent = client.get_run(parent_id)
    confirm_tags = {k: v for k, v in parent.data.tags.items() if k.startswith("confirm.")}
    assert confirm_tags.keys() == {
        "confirm.winner",
        "confirm.winner_trial",
        "confirm.winner_command",
        "confirm.vs_base",
        "confirm.phase",
    }
    assert confirm_tags["confirm.winner"] == report["winner"]
    assert confirm_tags["confirm.vs_base"] == "base"
    assert confirm_tags["confirm.phase"] == f"{first['study']}.confirm-top1x2"
    # MLflow keeps a metric's history: this phase (step 1) has no runner-up, NaN says so
    assert math.isnan(parent.data.metrics["confirm_p_vs_runner_up"])
    history = client.get_metric_history(parent_id, "confirm_p_vs_runner_up")
    assert sorted(p.step for p in history) == [0, 1]
    base = next(c for c in report["comparisons"] if c["role"] == "base")
    assert parent.data.metrics["confirm_p_vs_base"] == pytest.approx(base["p_value"], rel=1e-12)
    row = next(r for r in report["configs"] if r["label"] == report["winner"])
    assert parent.data.metrics["confirm_best_val_loss_mean"] == pytest.approx(
        row["stats"]["best_val_loss"]["mean"], rel=1e-12
    )
    pairs = _pairs(bench)
    assert len(pairs) == (2 + 1) * 2 and len(set(pairs)) == len(pairs)

    # phase 3, one more seed: only that seed runs, the others are the first phase's runs
    third = bench.run("lr", *SMALL, "sweep.confirm.top_k=1", "sweep.confirm.seeds=3")
    pairs = _pairs(bench)
    assert len(pairs) == (2 + 1) * 2 + 2 and len(set(pairs)) == len(pairs)
    row = next(r for r in third["confirm"]["configs"] if r["label"] == third["confirm"]["winner"])
    assert row["stats"]["best_val_loss"]["n"] == 3
    by_seed = dict(zip(third["confirm"]["seeds"], row["values"], strict=True))
    for run in first_runs:
        if run.data.tags["confirm.config"] == row["label"]:
            assert by_seed[int(run.data.tags["confirm.seed"])] == run.data.metrics["best_val_loss"]

    from nnexp.commands import runs
    from nnexp.commands.common import format_param

    capsys.readouterr()
    args = ["--parent", parent_id[:8], "--group-by", "optimizer.lr"]
    assert runs.main([*args, "--tracking-uri", bench.store_uri]) == 0
    lr = format_param(str(row["params"]["lr"]), 24)
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.split()[:1] == [lr]]
    # the winner's lr: its search trial and its 3 confirm runs, each counted once
    assert line.split()[1] == "4"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["sweep.confirm.top_k=2", "sweep.confirm.seeds=1"], "sweep.confirm.seeds=1 is invalid"),
        (["sweep.confirm.top_k=-1"], "sweep.confirm.top_k=-1 is invalid"),
    ],
)
def test_confirm_settings_that_cannot_work_are_one_line_before_anything(bench, extra, words):
    result = bench.cli(*bench.overrides("lr", "sweep.n_trials=2", *extra))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert not (bench.workdir / "mlruns" / "optuna").exists() or not any(
        (bench.workdir / "mlruns" / "optuna").iterdir()
    )


def test_confirm_seeds_are_fresh_and_shared():
    from nnexp.sweep.confirm import confirm_seeds
    from nnexp.sweep.overrides import trial_seed

    seeds = confirm_seeds(3, 5)
    assert seeds == [39999, 39998, 39997, 39996, 39995]
    assert not set(seeds) & {trial_seed(3, n) for n in range(9000)}
    assert math.isfinite(sum(seeds))


@pytest.mark.slow
def test_two_studies_of_one_sweep_in_one_storage_each_confirm_their_own_trials(bench):
    """``+sweep=lr`` and ``+sweep=lr optimizer=sgd`` are two studies (``lr-<digest>`` each);
    in one shared storage (a database URL, as in "Scale out") their confirm phases must be two
    studies too, named after each search study, not one ``lr.confirm-...`` that the second
    sweep would read back as its own (the first sweep's winners under the second's parent)."""
    import optuna

    storage = f"sqlite:///{bench.workdir / 'optuna.db'}"
    shared = [f"sweep.storage={storage}", "sweep.n_trials=3"]
    confirm = ["sweep.confirm.top_k=1", "sweep.confirm.seeds=2"]
    adam = bench.run("lr", *shared, *confirm)
    sgd = bench.run("lr", *shared, "optimizer=sgd", *confirm)
    assert adam["study"] != sgd["study"]
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {
        adam["study"],
        sgd["study"],
        f"{adam['study']}.confirm-top1x2",
        f"{sgd['study']}.confirm-top1x2",
    }
    for summary in (adam, sgd):
        study = optuna.load_study(study_name=summary["study"], storage=storage)
        top = summary["confirm"]["configs"][0]
        assert top["label"] == f"trial {study.best_trial.number}"
        assert top["search_value"] == study.best_value
    parents, _ = bench.parents_and_children()
    by_study = {p.data.tags["nnexp.study"]: p.info.run_id for p in parents}
    for summary in (adam, sgd):
        children = [
            r for r in _confirm_children(bench) if r.data.tags["nnexp.study"] == summary["study"]
        ]
        assert len(children) == 2 * 2
        assert {r.data.tags["mlflow.parentRunId"] for r in children} == {by_study[summary["study"]]}
        # optuna-dashboard on the confirm study: the value is named, each job names its run
        confirm_study = optuna.load_study(
            study_name=f"{summary['study']}.confirm-top1x2", storage=storage
        )
        assert confirm_study.metric_names == ["best_val_loss"]
        run_ids = [t.user_attrs.get("mlflow_run_id") for t in confirm_study.trials]
        assert sorted(run_ids) == sorted(r.info.run_id for r in children)


def _report_row(label: str, trial: int | None, values: list[float]) -> dict:
    from nnexp.stats import summarize

    return {
        "label": label,
        "trial": trial,
        "params": {} if trial is None else {"lr": 0.1},
        "search_value": None if trial is None else min(values),
        "values": values,
        "per_seed": {"best_val_loss": values},
        "stats": {"best_val_loss": summarize(values).as_dict()},
        "overrides": [],
    }


@pytest.mark.parametrize(
    ("direction", "base_values", "base_better"),
    [
        ("minimize", [0.08, 0.09], True),
        ("minimize", [0.2, 0.3], False),
        ("maximize", [0.2, 0.3], True),
    ],
)
def test_the_winner_line_says_when_the_base_config_has_the_better_mean(
    direction, base_values, base_better
):
    """The winner is chosen among the searched configurations; the base config is the
    reference. When the base config's mean is the better one, the winner line must say so
    (seen: ``winner by mean best_val_loss: trial 1 (*)`` above a base row with a lower mean)."""
    from nnexp.sweep.confirm_report import format_report

    report = {
        "metric": "best_val_loss",
        "direction": direction,
        "seeds": [9999, 9998],
        "significance": 0.05,
        "configs": [_report_row("trial 1", 1, [0.1, 0.12]), _report_row("base", None, base_values)],
        "winner": "trial 1",
        "comparisons": [],
    }
    lines = format_report(report).splitlines()
    (line,) = [line for line in lines if "winner by mean" in line]
    assert line.startswith(
        "  winner by mean best_val_loss among the searched configurations: trial 1 (*)"
    )
    base_mean = sum(base_values) / 2
    note = f"; the base config's mean ({base_mean:.4g}) is better: the search did not beat it"
    assert line.endswith(note) == base_better, line
