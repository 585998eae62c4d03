"""Outside testing, session 10: the error bars of ``runs --group-by``, a multirun's seed summary,
``compare PARENT_ID`` and the confirm report, when a seed diverges or a run lacks a metric.

The runs are written straight into a temporary MLflow store (no training: milliseconds), as the
recorder writes them: a multirun parent, its jobs with ``mlflow.parentRunId``, per-epoch
``train_loss``/``val_loss`` histories, and a job that diverged before epoch 1 (no final metric,
no curve: what ``trainer.divergence_bound=0.755`` gave seed 3 in the tester's multirun).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats

from nnexp.errors import NnexpError

#: model.activation -> test_accuracy per seed; relu's mean (0.83) beats tanh's (0.81), but the
#: single best run is a tanh one (0.90): a best-of-N slice would rank tanh first.
ACCURACIES = {"relu": [0.80, 0.82, 0.84, 0.86], "tanh": [0.90, 0.78, 0.79, 0.77]}
#: seed -> epochs of curves (seed 3 diverged after epoch 2, seed 4 before epoch 1)
SEED_EPOCHS = {1: 5, 2: 5, 3: 2, 4: 0}


def _run(client, experiment_id, name, *, parent=None, kind="run", params=(), metrics=(), tags=()):
    from mlflow.entities import Metric, Param

    run_tags = {"nnexp.kind": kind, **dict(tags)}
    if parent is not None:
        run_tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment_id, run_name=name, tags=run_tags)
    run_id = run.info.run_id
    metric_list = [Metric(key, value, 0, step) for key, value, step in metrics]
    client.log_batch(
        run_id,
        metrics=metric_list,
        params=[Param(key, str(value)) for key, value in dict(params).items()],
    )
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _job_metrics(epochs: int, offset: float) -> list[tuple[str, float, int]]:
    """A job's per-epoch losses (steps 1..epochs) and its final metrics (none if it diverged
    before its first epoch, as ``train.py`` records such a run)."""
    points = []
    for epoch in range(1, epochs + 1):
        points += [
            ("train_loss", 1.0 / epoch + offset, epoch),
            ("val_loss", 1.2 / epoch + offset, epoch),
        ]
    if epochs:
        final = 1.2 / epochs + offset
        points += [("final_val_loss", final, 0), ("best_val_loss", final, 0)]
        points += [
            ("final_train_loss", 1.0 / epochs + offset, 0),
            ("test_accuracy", 0.8 + offset, 0),
        ]
    return [*points, ("baseline_loss", 0.6931, 0), ("epochs_run", float(epochs), 0)]


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory, empty_store_db):
    """A store with a 2x4 (+1 diverged) activation multirun and a 4-seed multirun."""
    import shutil

    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("error_bars")
    shutil.copyfile(empty_store_db, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("nnexp", artifact_location=str(root / "artifacts"))
    grid = _run(client, experiment_id, "grid", kind="multirun")
    for activation, values in ACCURACIES.items():
        for seed, value in enumerate(values):
            _run(
                client,
                experiment_id,
                f"{activation}-s{seed}",
                parent=grid,
                params={"model.activation": activation, "seed": seed},
                metrics=[("test_accuracy", value, 0), ("best_val_loss", 1 - value, 0)],
                tags={"diagnosis": "good"},
            )
    _run(  # a relu job that diverged: no metric, so no part of relu's statistics
        client,
        experiment_id,
        "relu-s4",
        parent=grid,
        params={"model.activation": "relu", "seed": 4},
        metrics=[("baseline_loss", 0.6931, 0)],
        tags={"diagnosis": "diverged"},
    )
    seeds = _run(client, experiment_id, "multirun seed=1,2,3,4", kind="multirun")
    for seed, epochs in SEED_EPOCHS.items():
        _run(
            client,
            experiment_id,
            f"s{seed}",
            parent=seeds,
            params={"seed": seed, "model.activation": "tanh"},
            metrics=_job_metrics(epochs, seed / 100),
            tags={"diagnosis": "good" if epochs == 5 else "diverged"},
        )
    return SimpleNamespace(
        uri=uri, client=client, experiment_id=experiment_id, grid=grid, seeds=seeds, root=root
    )


def _runs_command(hand_store, capsys, *args: str) -> list[str]:
    from nnexp.commands import runs

    assert runs.main([*args, "--tracking-uri", hand_store.uri]) == 0
    return capsys.readouterr().out.splitlines()


def _cell(values: list[float]) -> str:
    mean, sd = np.mean(values), np.std(values, ddof=1)
    low, high = scipy.stats.t.interval(
        0.95, len(values) - 1, loc=mean, scale=scipy.stats.sem(values)
    )
    return f"{mean:.4g} ± {sd:.2g} [{low:.4g}, {high:.4g}]"


@pytest.mark.parametrize(
    "order", [["--sort", "-test_accuracy"], ["--sort", "test_accuracy", "--desc"]]
)
def test_group_by_sorts_highest_mean_first_with_minus_metric_or_desc(hand_store, capsys, order):
    """Was: ``lowest mean test_accuracy first`` (hard-coded), the lower mean on top."""
    lines = _runs_command(
        hand_store,
        capsys,
        "--parent",
        hand_store.grid[:8],
        "--group-by",
        "model.activation",
        *order,
    )
    assert lines[0] == (
        f"runs of multirun {hand_store.grid[:8]} (grid): 9 runs grouped by "
        "model.activation (2 groups), highest mean test_accuracy first"
    )
    assert [line.split()[0] for line in lines[2:4]] == ["relu", "tanh"]
    ascending = _runs_command(
        hand_store,
        capsys,
        "--parent",
        hand_store.grid[:8],
        "--group-by",
        "model.activation",
        "--sort",
        "test_accuracy",
    )
    assert ascending[0].endswith("(2 groups), lowest mean test_accuracy first")
    assert [line.split()[0] for line in ascending[2:4]] == ["tanh", "relu"]


def test_group_by_with_limit_groups_every_run_and_limits_the_groups(hand_store, capsys):
    """Was: the statistics of the top ``--limit`` runs only (a best-of-N mean: tanh's 0.90 run
    alone, n=1) under a heading counting every run."""
    lines = _runs_command(
        hand_store,
        capsys,
        "--parent",
        hand_store.grid[:8],
        "--group-by",
        "model.activation",
        "--sort",
        "-test_accuracy",
        "--limit",
        "1",
    )
    assert lines[0].endswith(
        "9 runs grouped by model.activation (2 groups, the first 1 shown), highest mean "
        "test_accuracy first"
    )
    assert lines[1].split()[:2] == ["model.activation", "n"]
    row = lines[2]
    assert row.startswith("relu") and row.split()[1:4] == ["4", "of", "5"]
    assert _cell(ACCURACIES["relu"]) in row
    assert "groups not shown (--limit 1): 1" in lines


def test_group_by_shows_the_n_behind_the_statistics(hand_store, capsys):
    """Was: ``n`` = 5 for relu (a diverged job counted) while mean, sd and the t interval (3 df)
    were over the 4 jobs with the metric."""
    lines = _runs_command(
        hand_store,
        capsys,
        "--parent",
        hand_store.grid[:8],
        "--group-by",
        "model.activation",
        "--sort",
        "-test_accuracy",
    )
    relu, tanh = lines[2], lines[3]
    assert relu.split()[:4] == ["relu", "4", "of", "5"]
    assert tanh.split()[:2] == ["tanh", "4"] and tanh.split()[2] != "of"
    assert _cell(ACCURACIES["relu"]) in relu and _cell(ACCURACIES["tanh"]) in tanh
    assert (
        "n: K of N = the statistics use K of the group's N runs; the others lack test_accuracy "
        "(pruned, diverged or failed)"
    ) in lines


def test_group_table_marks_a_metric_whose_n_differs_from_the_sort_metrics():
    """A pruned trial has its last epoch's losses but no best_val_loss: that cell says its n."""
    from nnexp.commands.groups import group_table

    runs = [
        SimpleNamespace(
            params={"optimizer.lr": "0.1"}, metrics={"best_val_loss": v, "test_loss": v}, tags={}
        )
        for v in (0.3, 0.32, 0.35, 0.31)
    ]
    runs += [
        SimpleNamespace(params={"optimizer.lr": "0.1"}, metrics={"final_val_loss": 0.9}, tags={}),
        SimpleNamespace(params={"optimizer.lr": "0.1"}, metrics={"final_val_loss": 0.8}, tags={}),
    ]
    header, row, *_ = group_table(runs, "optimizer.lr", "best_val_loss")
    assert header.split() == ["optimizer.lr", "n", "final_val_loss", "best_val_loss", "test_loss"]
    assert row.split()[1:4] == ["4", "of", "6"]
    assert f"{_cell([0.9, 0.8])} (n=2)" in row
    assert _cell([0.3, 0.32, 0.35, 0.31]) + "  " in row + "  "


def test_a_diverged_seed_leaves_the_seed_summary_of_the_others(hand_store):
    """Was: only metrics every FINISHED job had were summarised: seed 4 (diverged before epoch
    1) had none, so no ``over N seeds`` lines and no ``*_mean`` on the parent, yet ``seeds=4``."""
    from nnexp.tracking.seed_summary import format_seed_summary, summarize_seed_jobs

    store = SimpleNamespace(uri=hand_store.uri, experiment_id=hand_store.experiment_id)
    summary = summarize_seed_jobs(store, hand_store.seeds)
    parent = hand_store.client.get_run(hand_store.seeds)
    accuracies = [0.8 + seed / 100 for seed in (1, 2, 3)]
    assert parent.data.tags["seeds"] == "4"
    assert parent.data.metrics["test_accuracy_n"] == 3
    assert parent.data.metrics["test_accuracy_mean"] == pytest.approx(
        np.mean(accuracies), rel=1e-12
    )
    low, high = scipy.stats.t.interval(
        0.95, 2, loc=np.mean(accuracies), scale=scipy.stats.sem(accuracies)
    )
    assert parent.data.metrics["test_accuracy_ci_low"] == pytest.approx(low, rel=1e-10)
    assert parent.data.metrics["test_accuracy_ci_high"] == pytest.approx(high, rel=1e-10)
    lines = format_seed_summary(summary).splitlines()
    assert lines[0] == "over 4 seeds (mean ± sd [95% CI, Student t]):"
    assert f"  test_accuracy: {_cell(accuracies)} (n=3)" in lines
    assert lines[-1] == (
        "  left out where they lack a metric (1 of 4 seeds; n counts the others): seed 4 (diverged)"
    )


def test_compare_a_parent_leaves_out_a_job_without_curves_and_averages_where_two_runs_remain(
    hand_store, capsys
):
    """Was: ``recorded no per-epoch losses; compare training runs, not sweep or multirun
    parents`` although a parent was given; and the mean curve stopped at the last epoch every
    job reached (epoch 2 of seed 3)."""
    from nnexp.commands import compare
    from nnexp.commands.compare import read_group
    from nnexp.tracking.reader import StoreReader

    output = hand_store.root / "compare.png"
    code = compare.main(
        [hand_store.seeds[:8], "--output", str(output), "--tracking-uri", hand_store.uri]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and output.stat().st_size > 10_000
    (left_out,) = [line for line in out if "left out" in line]
    s4 = next(
        r
        for r in hand_store.client.search_runs([hand_store.experiment_id])
        if r.info.run_name == "s4"
    )
    assert left_out == (
        f"compare: multirun {hand_store.seeds[:8]}: 1 of 4 jobs recorded no per-epoch losses, "
        f"left out of its mean curve: {s4.info.run_id[:8]} (diverged)"
    )
    diagnosis = next(line for line in out if line.startswith("diagnosis"))
    assert "mean of 3 of 4 jobs" in diagnosis

    reader = StoreReader(hand_store.uri)
    _, curves, _ = read_group(reader, reader.get_run(hand_store.seeds))
    epochs = [epoch for epoch, _ in curves.series["val_loss"]]
    assert epochs == [1, 2, 3, 4, 5]  # was [1, 2]
    means = dict(curves.series["val_loss"])
    assert means[2] == pytest.approx(np.mean([0.6 + s / 100 for s in (1, 2, 3)]))
    assert means[5] == pytest.approx(np.mean([0.24 + s / 100 for s in (1, 2)]))
    assert curves.label.endswith("mean of 3; n<3 from epoch 3, n=2 at epoch 5")


def test_compare_a_run_without_curves_says_so_not_that_it_is_a_parent(hand_store, capsys):
    from nnexp.commands import compare

    s4 = next(
        r
        for r in hand_store.client.search_runs([hand_store.experiment_id])
        if r.info.run_name == "s4"
    )
    with pytest.raises(NnexpError) as error:
        compare.main(
            [
                s4.info.run_id,
                "--output",
                str(hand_store.root / "x.png"),
                "--tracking-uri",
                hand_store.uri,
            ]
        )
    assert str(error.value) == (
        f"compare: run {s4.info.run_id} (run) recorded no per-epoch losses (diagnosis: diverged): "
        "there is no curve to draw"
    )


def _report(metric: str, values: dict[str, list[float]], seeds: list[int]) -> dict:
    from nnexp.stats import summarize

    configs = []
    for index, (label, per_seed) in enumerate(values.items()):
        stats = {metric: summarize(per_seed).as_dict(), "test_loss": summarize(per_seed).as_dict()}
        if metric != "test_accuracy":
            stats["test_accuracy"] = summarize(per_seed).as_dict()
        configs.append(
            {
                "label": label,
                "trial": index if label != "base" else None,
                "params": {"x": index},
                "search_value": 0.5,
                "stats": stats,
                "values": per_seed,
            }
        )
    return {
        "metric": metric,
        "direction": "maximize",
        "seeds": seeds,
        "significance": 0.05,
        "configs": configs,
        "winner": "trial 1",
        "comparisons": [],
    }


def test_the_confirm_header_gives_the_n_its_rows_use_and_no_column_twice():
    """Was: ``confirmed over 4 seeds`` above rows over the 2 seeds that did not diverge, and a
    sweep optimising test_accuracy printed its column twice."""
    from nnexp.sweep.confirm_report import format_report

    nan = float("nan")
    report = _report(
        "test_accuracy",
        {"trial 1": [0.9, 0.8, nan, nan], "base": [0.7, 0.72, nan, nan]},
        [1, 2, 3, 4],
    )
    lines = format_report(report).splitlines()
    assert lines[0] == (
        "confirmed over 4 seeds (2 with a test_accuracy: the others diverged or failed): "
        "test_accuracy mean ± sd [95% CI, Student t] (test metrics likewise)"
    )
    assert lines[1].split() == ["config", "search", "test_accuracy", "test_loss", "params"]
    assert f"{_cell([0.9, 0.8])} (n=2)" in lines[2]
    full = _report("test_accuracy", {"trial 1": [0.9, 0.8], "base": [0.7, 0.72]}, [1, 2])
    assert format_report(full).splitlines()[0].startswith("confirmed over 2 seeds: test_accuracy")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--seeds", "1"],
            "confirm: --seeds 1 is invalid: must be >= 2 (an interval needs two values)",
        ),
        (["--top-k", "0"], "confirm: --top-k 0 is invalid: must be >= 1 (configurations)"),
    ],
)
def test_confirm_refuses_a_bad_count_before_printing_its_command(
    hand_store, capsys, flags, message
):
    """Was: ``confirm: python -m nnexp ...`` printed, then the one-line error."""
    from nnexp.commands import confirm

    sweep = _run(
        hand_store.client,
        hand_store.experiment_id,
        "sweep lr",
        kind="sweep",
        tags={"command": "python -m nnexp +sweep=lr"},
    )
    with pytest.raises(NnexpError) as error:
        confirm.main([sweep, *flags, "--tracking-uri", hand_store.uri])
    assert str(error.value) == message
    assert capsys.readouterr().out == ""
