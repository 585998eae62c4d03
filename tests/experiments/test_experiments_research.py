"""The research experiments (experiments/*.yaml) compose, and show what they are named after.

Runs go through ``compose_config`` + ``run_experiment`` with tracking off, as the command line
does; where a full run is slow the epochs are shortened by override. The numbers asserted are
the ones experiments/README.md reports (same seeds, same configs).
"""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.config.compose import compose_config
from nnexp.config.store import experiment_names
from nnexp.run import run_experiment

QUIET = ["tracking=off", "trainer.progress=false"]
RESEARCH = ("seed_xor", "capacity", "learning_rate", "regularization", "activations", "digits")


def run(name: str, *overrides: str):
    return run_experiment(compose_config([f"+experiment={name}", *overrides, *QUIET]))


def test_every_research_experiment_is_shipped():
    assert set(RESEARCH) <= set(experiment_names())


@pytest.mark.parametrize("name", experiment_names())
def test_every_experiment_composes_into_its_own_mlflow_experiment(name):
    cfg = compose_config([f"+experiment={name}"])
    assert cfg.tracking.experiment_name == name
    assert cfg.get("sweep") is None  # a sweep is chosen on the command line (+sweep=NAME)


@pytest.mark.parametrize(("name", "sweep", "trials"), [("capacity", "capacity_width", 11)])
def test_experiment_with_its_sweep_composes(name, sweep, trials):
    cfg = compose_config([f"+experiment={name}", f"+sweep={sweep}"])
    assert cfg.sweep.name == sweep
    assert cfg.sweep.sampler.name == "grid"
    assert len(cfg.sweep.space.width.choices) == trials
    assert cfg.data.name == "spirals"  # the experiment's setting, not overridden by the sweep


def test_digits_sweep_composes_with_one_seed_for_every_trial():
    cfg = compose_config(["+experiment=digits", "+sweep=digits"])
    assert cfg.sweep.n_trials == 8
    assert cfg.sweep.vary_seed is False  # every trial on seed 0: one split, one init stream
    assert "seed" not in cfg.sweep.space  # the confirm phase chooses the seeds
    assert cfg.data.name == "digits"


@pytest.mark.parametrize(("name", "sweep"), [("digits", "digits"), ("capacity", "capacity_width")])
def test_experiment_sweep_with_its_confirm_phase_is_accepted(name, sweep, tmp_path, monkeypatch):
    """Regression: these sweeps swept ``seed`` (one choice) and asked for a confirm phase, which
    refuses a swept seed: ``+experiment=digits +sweep=digits`` exited 2 before any trial."""
    from nnexp.sweep.driver import plan_sweep

    monkeypatch.chdir(tmp_path)
    overrides = [f"+experiment={name}", f"+sweep={sweep}", *QUIET]
    plan = plan_sweep(compose_config(overrides), overrides)
    assert plan.spec.confirm.top_k == 3
    assert plan.spec.confirm.seeds == 5
    assert plan.spec.vary_seed is False


def test_seed_xor_solved_by_a_larger_learning_rate_and_more_epochs():
    result = run("seed_xor", "optimizer.lr=1", "trainer.epochs=3000")
    assert result.history.final["train_accuracy"] == 1.0
    assert result.history.final["train_loss"] < 1e-3
    assert result.diagnosis.label == "good"


def test_capacity_validation_loss_is_u_shaped_across_width():
    results = {width: run("capacity", f"model.hidden_sizes=[{width}]") for width in (2, 12, 64)}
    labels = {width: result.diagnosis.label for width, result in results.items()}
    assert labels == {2: "underfit", 12: "good", 64: "overfit"}
    train = [results[w].history.final["train_loss"] for w in (2, 12, 64)]
    val = [results[w].history.final["val_loss"] for w in (2, 12, 64)]
    assert train[0] > train[1] > train[2]  # train loss keeps falling with width
    assert val[1] < val[0] and val[1] < val[2]  # validation loss falls, then rises
    assert val[2] > 1.5 * val[1]


def test_capacity_grid_sweep_runs_every_grid_point(tmp_path, monkeypatch):
    """Regression: the grid sampler's Study.stop() used to fail the sweep on its last trial."""
    from nnexp.sweep import run_sweep

    monkeypatch.chdir(tmp_path)
    overrides = [
        "+experiment=capacity",
        "+sweep=capacity_width",
        "sweep.space.width.choices=[2,64]",
        "trainer.epochs=20",
        "sweep.confirm.top_k=0",
        *QUIET,
    ]
    summary = run_sweep(compose_config(overrides), overrides)
    assert summary["n_complete"] == 2
    assert summary["n_failed"] == 0


def test_learning_rate_too_small_good_oscillating_diverged():
    results = {lr: run("learning_rate", f"optimizer.lr={lr}") for lr in ("0.001", "0.3", "3", "20")}
    assert results["0.001"].diagnosis.label == "underfit"
    assert results["0.3"].diagnosis.label == "good"
    assert results["20"].diagnosis.label == "diverged"
    assert results["20"].history.stop_reason.startswith("diverged")

    def rises(result):  # epochs whose train loss is above the previous epoch's
        losses = np.array([record["train_loss"] for record in result.history.epochs])
        return int((np.diff(losses) > 0).sum())

    assert rises(results["0.3"]) == 0  # gradient descent with a good step only goes down
    assert rises(results["3"]) > 50  # too large a step: the loss goes up and down
    assert results["3"].diagnosis.label != "diverged"


def test_regularization_pulls_the_overfit_network_back():
    baseline = run("regularization")
    decay = run("regularization", "optimizer.weight_decay=0.003")
    dropout = run("regularization", "model.dropout=0.7")
    assert baseline.diagnosis.label == "overfit"
    assert baseline.history.final["train_loss"] < 0.02
    for result in (decay, dropout):
        assert result.diagnosis.label == "good"
        assert result.history.final["val_loss"] < 0.5 * baseline.history.final["val_loss"]


def test_activations_sigmoid_learns_slowest_in_the_deep_network():
    results = {
        act: run("activations", f"model.activation={act}", "trainer.epochs=20")
        for act in ("sigmoid", "tanh", "relu")
    }
    sigmoid = results["sigmoid"]
    assert sigmoid.diagnosis.label == "underfit"
    assert sigmoid.history.final["train_loss"] > 0.99 * sigmoid.baseline_loss  # never moved
    for act in ("tanh", "relu"):
        assert sigmoid.history.final["train_loss"] > 1.5 * results[act].history.final["train_loss"]


def test_activations_sigmoid_gradients_vanish_towards_the_input():
    from nnexp.build import build_model, build_splits

    ratios = {}
    for act in ("sigmoid", "tanh", "relu"):
        cfg = compose_config(["+experiment=activations", f"model.activation={act}"])
        dataset, splits = build_splits(cfg.data, cfg.seed)
        model = build_model(cfg.model, dataset, cfg.seed)
        model.loss_and_grads(splits.train.X, splits.train.y, rng=np.random.default_rng(0))
        norms = [float(np.linalg.norm(grad)) for grad in model.grads[0::2]]  # weights only
        ratios[act] = norms[0] / norms[-1]
    assert ratios["sigmoid"] < 1e-3  # first layer's gradient ~3000x smaller than the last's
    assert ratios["tanh"] > 0.5
    assert ratios["relu"] > 0.5


def test_digits_short_run_learns_the_real_data_set():
    result = run("digits", "trainer.epochs=5", "optimizer.lr=0.003")
    assert result.history.test["test_accuracy"] > 0.9
    assert result.diagnosis.label == "good"
