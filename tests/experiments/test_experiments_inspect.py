"""The experiments that show the inside of a network name the right cause (tracking off, the
command-line path, epochs shortened where the full run is slow)."""

from __future__ import annotations

from nnexp.config.compose import compose_config
from nnexp.config.store import experiment_names
from nnexp.run import run_experiment

QUIET = ["tracking=off", "trainer.progress=false"]


def causes(name: str, *overrides: str) -> set[tuple[str, int | None]]:
    result = run_experiment(compose_config([f"+experiment={name}", *overrides, *QUIET]))
    return {(finding.name, finding.layer) for finding in result.findings}


def test_dead_relu_is_shipped():
    assert "dead_relu" in experiment_names()


def test_dead_relu_at_a_large_step_is_named_dead_units():
    found = causes("dead_relu", "trainer.epochs=30")
    assert ("dead units", 2) in found
    assert "vanishing gradients" not in {name for name, _ in found}


def test_dead_relu_at_a_sane_step_has_no_cause():
    assert causes("dead_relu", "optimizer.lr=0.01", "trainer.epochs=30") == set()


def test_deep_sigmoid_of_the_activations_experiment_is_named_vanishing_gradients():
    assert causes("activations", "trainer.epochs=20") == {("vanishing gradients", 1)}


def test_deep_tanh_of_the_activations_experiment_has_no_cause():
    assert causes("activations", "model.activation=tanh", "trainer.epochs=20") == set()
