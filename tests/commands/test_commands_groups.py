"""Seeds for any multirun: mean ± CI on the parent when only ``seed`` varies, ``runs --group-by``,
and ``compare PARENT_ID`` drawing a group's mean curve with its band."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from nnexp_testing import NnexpCommand

FAST = ["data.n_samples=120", "trainer.epochs=8", "trainer.progress=false"]


def _multirun(cmd: NnexpCommand, *sweep: str):
    result = cmd.run("-m", *sweep, *FAST, "tracking.log_model=false", timeout=300)
    assert result.returncode == 0, result.stderr
    client = cmd.client()
    experiment = client.get_experiment_by_name("nnexp")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("nnexp.kind") == "multirun")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return result, parent, children


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    cmd = NnexpCommand(tmp_path_factory.mktemp("seeds"))
    return cmd, *_multirun(cmd, "seed=range(3)")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    cmd = NnexpCommand(tmp_path_factory.mktemp("grid"))
    return cmd, *_multirun(cmd, "model.activation=relu,tanh", "seed=0,1")


@pytest.mark.slow
def test_a_seed_multirun_records_mean_and_t_interval_on_its_parent(seeds):
    _, result, parent, children = seeds
    assert len(children) == 3
    assert parent.data.tags["seeds"] == "3"
    for metric in ("best_val_loss", "final_val_loss", "test_accuracy", "test_loss"):
        values = [c.data.metrics[metric] for c in children]
        assert parent.data.metrics[f"{metric}_mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert parent.data.metrics[f"{metric}_std"] == pytest.approx(
            np.std(values, ddof=1), rel=1e-10
        )
        low, high = scipy.stats.t.interval(
            0.95, 2, loc=np.mean(values), scale=scipy.stats.sem(values)
        )
        assert parent.data.metrics[f"{metric}_ci_low"] == pytest.approx(low, rel=1e-10)
        assert parent.data.metrics[f"{metric}_ci_high"] == pytest.approx(high, rel=1e-10)
    assert "over 3 seeds (mean ± sd [95% CI, Student t]):" in result.stdout


@pytest.mark.slow
def test_a_multirun_that_varies_more_than_the_seed_gets_no_seed_statistics(grid):
    _, result, parent, children = grid
    assert len(children) == 4
    assert "seeds" not in parent.data.tags
    assert not [k for k in parent.data.metrics if k.endswith("_mean")]
    assert "over " not in result.stdout or "seeds (mean" not in result.stdout


@pytest.mark.slow
def test_runs_group_by_prints_count_and_mean_sd_per_value(grid):
    cmd, _, parent, children = grid
    out = cmd.run("runs", "--parent", parent.info.run_id[:8], "--group-by", "model.activation")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "grouped by model.activation" in lines[0]
    for activation in ("relu", "tanh"):
        values = [
            c.data.metrics["best_val_loss"]
            for c in children
            if c.data.params["model.activation"] == activation
        ]
        row = next(line for line in lines if line.startswith(activation))
        cells = row.split()
        assert cells[1] == "2"  # the count
        expected = f"{np.mean(values):.4g} ± {np.std(values, ddof=1):.2g}"
        assert expected in row
    bad = cmd.run("runs", "--parent", parent.info.run_id[:8], "--group-by", "model.activaton")
    assert bad.returncode == 2 and "no listed run has that param" in bad.stderr


@pytest.mark.slow
def test_compare_draws_a_parent_as_its_mean_curve_with_a_band(seeds):
    cmd, _, parent, children = seeds
    out = cmd.run("compare", parent.info.run_id[:8], children[0].info.run_id[:8])
    assert out.returncode == 0, out.stderr
    assert (cmd.workdir / out.stdout.splitlines()[0].split(": ", 1)[1]).stat().st_size > 10_000
    assert "mean of 3 jobs" in out.stdout


def test_mean_band_is_the_per_epoch_mean_and_t_interval():
    from nnexp.commands.groups import mean_band, runs_per_epoch_note

    runs = [
        [(1, 1.0), (2, 0.5), (3, 0.2), (4, 0.1)],
        [(1, 1.2), (2, 0.7)],
        [(1, 0.8), (2, 0.6), (3, 0.4)],
    ]
    means, band = mean_band(runs)
    # epochs at least two runs logged (was: only those every run logged, [1, 2]); epoch 4 has one
    assert [e for e, _ in means] == [1, 2, 3]
    assert means[1][1] == pytest.approx(0.6)
    assert means[2][1] == pytest.approx(0.3)  # over the two runs that reached epoch 3
    low, high = scipy.stats.t.interval(0.95, 2, loc=0.6, scale=scipy.stats.sem([0.5, 0.7, 0.6]))
    assert band[1] == pytest.approx((2, low, high))
    low, high = scipy.stats.t.interval(0.95, 1, loc=0.3, scale=scipy.stats.sem([0.2, 0.4]))
    assert band[2] == pytest.approx((3, low, high))
    assert runs_per_epoch_note(runs) == "; n<3 from epoch 3, n=2 at epoch 3"
    assert runs_per_epoch_note(runs[:1]) == ""
    assert runs_per_epoch_note([runs[0][:2], runs[1]]) == ""
    assert mean_band(runs[1:2]) == ([(1, 1.2), (2, 0.7)], [])  # one run alone: its own curve


def test_group_table_gives_mean_sd_and_the_student_t_interval():
    from types import SimpleNamespace

    from scipy import stats as scipy_stats

    from nnexp.commands.groups import group_table

    values = {"relu": [0.31, 0.29, 0.35, 0.30, 0.33], "tanh": [0.41, 0.44]}
    runs = [
        SimpleNamespace(params={"model.activation": act}, metrics={"final_val_loss": v})
        for act, vs in values.items()
        for v in vs
    ]
    lines = group_table(runs, "model.activation", "final_val_loss")
    assert lines[0].split() == ["model.activation", "n", "final_val_loss"]
    assert (
        lines[-1] == "each metric: mean ± sd [95% CI of the mean, Student t] over the group's runs"
    )
    for act, vs in values.items():
        mean, sd = np.mean(vs), np.std(vs, ddof=1)
        half = scipy_stats.t.ppf(0.975, len(vs) - 1) * sd / np.sqrt(len(vs))
        row = next(line for line in lines if line.startswith(act))
        assert row.split()[1] == str(len(vs))
        assert f"{mean:.4g} ± {sd:.2g} [{mean - half:.4g}, {mean + half:.4g}]" in row


def test_group_table_counts_a_confirm_runs_copy_once():
    """Regression: a second confirm phase re-ran the (configuration, seed) runs of the first
    under the same parent, and ``runs --group-by`` counted the copies (n=6 for 4 runs). Stores
    written then hold the copies: the statistics must count each (configuration, seed) once."""
    from types import SimpleNamespace

    from nnexp.commands.groups import group_table

    def run(kind: str, seed: int | None, value: float, config: str = "trial 2") -> SimpleNamespace:
        tags = {"nnexp.kind": kind, "mlflow.parentRunId": "p"}
        if kind == "confirm":
            tags.update({"confirm.config": config, "confirm.seed": str(seed)})
        return SimpleNamespace(
            params={"optimizer.lr": "0.05"}, metrics={"final_val_loss": value}, tags=tags
        )

    distinct = [
        run("trial", None, 0.30),
        run("confirm", 9999, 0.31),
        run("confirm", 9998, 0.35),
        run("confirm", 9997, 0.33),
    ]
    copies = [run("confirm", 9999, 0.31), run("confirm", 9998, 0.35)]
    values = [0.30, 0.31, 0.35, 0.33]
    (row,) = [ln for ln in group_table(distinct + copies, "optimizer.lr", "final_val_loss")[1:-1]]
    mean, sd = np.mean(values), np.std(values, ddof=1)
    half = scipy.stats.t.ppf(0.975, 3) * sd / np.sqrt(4)
    assert row.split()[1] == "4"
    assert f"{mean:.4g} ± {sd:.2g} [{mean - half:.4g}, {mean + half:.4g}]" in row
    # another configuration's run with the same seed is no copy
    (row,) = group_table([*distinct, run("confirm", 9999, 0.4, "base")], "optimizer.lr", "x")[1:-1]
    assert row.split()[1] == "5"
