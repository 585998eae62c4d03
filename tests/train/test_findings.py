"""Named causes from real training: each finding fires on a network built to show it, and on
no network built not to."""

from __future__ import annotations

import pytest

from nnexp.data import load_dataset, make_splits
from nnexp.findings import (
    DEAD_FRACTION,
    EXPLODING_GRAD_TO_WEIGHT,
    SATURATED_FRACTION,
    STEP_RATIO,
    VANISHING_RATIO,
    find_causes,
)
from nnexp.nn import MLP, make_optimizer
from nnexp.nn.inspect import LayerProbe, layer_activations
from nnexp.train import fit


@pytest.fixture(scope="module")
def splits():
    ds = load_dataset("moons", n_samples=400, noise=0.2, seed=0)
    return make_splits(ds, val_fraction=0.2, test_fraction=0.0, seed=0)


def causes(splits, sizes, activation, optimizer, lr, epochs=30, **model_kwargs):
    model = MLP(sizes, activation=activation, output="sigmoid", rng=0, **model_kwargs)
    history = fit(model, make_optimizer(optimizer, model.params, lr=lr), splits, epochs=epochs,
                  batch_size=32, probe=LayerProbe(model))  # fmt: skip
    return find_causes(history, layer_activations(model))


def names(findings):
    return sorted((f.name, f.layer) for f in findings)


@pytest.fixture(scope="module")
def healthy(splits):
    """The default network (2-16-16-1 tanh, Adam 0.01): nothing to report."""
    return causes(splits, [2, 16, 16, 1], "tanh", "adam", 0.01, epochs=60)


def test_healthy_network_has_no_finding(healthy):
    assert healthy == []


def test_deep_sigmoid_network_has_vanishing_gradients(splits):
    found = causes(splits, [2, 32, 32, 32, 32, 32, 32, 1], "sigmoid", "sgd", 0.1, epochs=20)
    assert names(found) == [("vanishing gradients", 1)]
    finding = found[0]
    assert finding.numbers["ratio"] <= VANISHING_RATIO
    assert finding.numbers["max_layer"] == 7  # the gradient is largest at the output
    assert finding.text.startswith("vanishing gradients: layer 1's gradient norm is ")
    assert "of layer 7's over the last 50% of epochs" in finding.text


def test_same_depth_with_tanh_does_not_vanish(splits):
    found = causes(splits, [2, 32, 32, 32, 32, 32, 32, 1], "tanh", "sgd", 0.1, epochs=20)
    assert "vanishing gradients" not in {f.name for f in found}


def test_relu_with_a_huge_step_has_dead_units(splits):
    found = causes(splits, [2, 64, 64, 1], "relu", "adam", 1.0, epochs=20)
    dead = [f for f in found if f.name == "dead units"]
    assert dead, names(found)
    assert all(f.numbers["fraction"] >= DEAD_FRACTION for f in dead)
    assert any(f.layer == 2 for f in dead)
    assert dead[-1].text.startswith(f"dead units: {dead[-1].numbers['fraction']:.0%} of layer ")
    assert "(relu) never active on the validation split" in dead[-1].text


def test_relu_with_a_sane_step_has_no_dead_units(splits):
    found = causes(splits, [2, 64, 64, 1], "relu", "adam", 0.01, epochs=20)
    assert found == []


def test_tanh_with_a_huge_step_saturates(splits):
    found = causes(splits, [2, 16, 16, 1], "tanh", "adam", 0.3)
    assert names(found) == [("saturation", 1), ("saturation", 2)]
    assert all(f.numbers["fraction"] >= SATURATED_FRACTION for f in found)
    assert "of layer 2 (tanh) saturated on most of the validation split" in found[1].text


def test_sgd_with_a_huge_step_is_a_step_too_large(splits):
    found = causes(splits, [2, 16, 16, 1], "tanh", "sgd", 10.0)
    steps = [f for f in found if f.name == "step too large"]
    assert [f.layer for f in steps] == [3]
    assert steps[0].numbers["update_ratio"] >= STEP_RATIO
    assert steps[0].text.startswith("step too large for layer 3: update/weight ")


def test_large_initial_weights_explode_the_gradients(splits):
    found = causes(splits, [2, 32, 32, 32, 32, 32, 1], "relu", "sgd", 1e-4, epochs=3,
                   init="normal", init_kwargs={"std": 0.8})  # fmt: skip
    exploding = [f for f in found if f.name == "exploding gradients"]
    assert len(exploding) == 1
    assert exploding[0].numbers["grad_to_weight"] >= EXPLODING_GRAD_TO_WEIGHT
    assert "x its weight norm" in exploding[0].text


def test_tiny_initial_weights_whose_gradients_grow_do_not_count_as_exploding(splits):
    found = causes(splits, [2, 16, 16, 1], "tanh", "sgd", 1.0, init="normal",
                   init_kwargs={"std": 0.01})  # fmt: skip
    assert "exploding gradients" not in {f.name for f in found}


def test_a_history_without_statistics_has_no_findings(splits):
    model = MLP([2, 8, 1], activation="relu", output="sigmoid", rng=0)
    history = fit(model, make_optimizer("adam", model.params, lr=1.0), splits, epochs=3)
    assert find_causes(history) == []


def test_finding_tag_key_and_dict():
    from nnexp.findings import Finding

    finding = Finding("dead units", 2, "dead units: 61% of layer 2 (relu) ...", {"fraction": 0.61})
    assert finding.tag_key == "diagnosis.cause.dead_units.layer2"
    assert finding.as_dict() == {
        "name": "dead units",
        "layer": 2,
        "text": "dead units: 61% of layer 2 (relu) ...",
        "fraction": 0.61,
    }


def test_dead_layers_are_named_instead_of_vanishing_gradients(splits):
    # Adam at lr 3 kills most of layer 2: layer 1 then gets almost no gradient, and the cause
    # is the dead layer, not vanishing through depth
    found = causes(splits, [2, 32, 32, 1], "relu", "adam", 3.0, epochs=20)
    assert ("dead units", 2) in names(found)
    assert "vanishing gradients" not in {f.name for f in found}
