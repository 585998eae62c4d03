"""The shipped experiments show what they are named after, through the command-line path."""

from __future__ import annotations

import pytest

from nnexp.config.compose import compose_config
from nnexp.run import run_experiment

QUIET = ["tracking=off", "trainer.progress=false"]


def run(name: str):
    return run_experiment(compose_config([f"+experiment={name}", *QUIET]))


def test_seed_xor_reproduces_the_tutorial_and_is_diagnosed_underfit():
    result = run("seed_xor")
    assert len(result.history.epochs) == 1000
    # the tutorial's setting (seed 0) gets 3 of the 4 points right and stays near the baseline
    assert result.history.final["train_accuracy"] == 0.75
    assert result.history.final["train_loss"] == pytest.approx(0.238223, abs=1e-6)
    assert result.diagnosis.label == "underfit"
    assert result.baseline_loss == pytest.approx(0.25)  # MSE of predicting the prior 0.5


def test_underfit_experiment_underfits():
    result = run("underfit")
    assert result.diagnosis.label == "underfit"
    assert result.diagnosis.train_vs_baseline > 0.5


@pytest.mark.slow
def test_overfit_experiment_overfits():
    result = run("overfit")
    assert result.diagnosis.label == "overfit"
    final = result.history.final
    assert final["train_loss"] < 0.1 * result.baseline_loss
    assert final["val_loss"] > final["train_loss"] * 5
