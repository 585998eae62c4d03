"""What a run records of the inside of its network, read back from MLflow: layer metrics at the
logged steps, causes in tags and diagnosis.json, pictures, the gradient check, reproduce."""

from __future__ import annotations

import json

import pytest

from nnexp.errors import NnexpError

PICTURES = ["decision_boundary.png", "histograms.png", "network_health.png"]


def _artifacts(store, run_id):
    return sorted(a.path for a in store.client().list_artifacts(run_id))


def test_layer_statistics_are_metrics_at_the_logged_steps(store):
    run_id = store.make_run("tracking.log_every=2", "tracking.log_plots=true")
    client = store.client()
    metrics = client.get_run(run_id).data.metrics
    layer_keys = sorted(k for k in metrics if k.startswith("layer"))
    expected = [
        f"layer{k}/{name}"
        for k in (1, 2, 3)
        for name in ("grad_norm", "preact_mean", "preact_std", "update_ratio", "weight_norm")
    ] + ["layer1/saturated_fraction", "layer2/saturated_fraction"]
    assert layer_keys == sorted(expected)  # tanh hidden layers: saturation, not dead units
    steps = [m.step for m in client.get_metric_history(run_id, "layer1/grad_norm")]
    assert sorted(steps) == [1, 2, 4, 6]  # the same thinning as the losses
    assert sorted(m.step for m in client.get_metric_history(run_id, "train_loss")) == [1, 2, 4, 6]
    assert not any(k.startswith("final_layer") for k in metrics)
    for picture in [*PICTURES, "learning_curves.png"]:
        assert picture in _artifacts(store, run_id)
    from nnexp import plot_helper

    assert plot_helper._helper is not None and not plot_helper._broken  # drawn in the helper
    png = store.artifacts / run_id / "artifacts" / "network_health.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_causes_reach_tags_and_diagnosis_json(store):
    run_id = store.make_run(
        "model.hidden_sizes=[32,32]",
        "model.activation=relu",
        "optimizer.lr=1.0",
        "trainer.epochs=15",
        "data.n_samples=300",
    )
    tags = store.client().get_run(run_id).data.tags
    diagnosis = json.loads((store.artifacts / run_id / "artifacts" / "diagnosis.json").read_text())
    names = {finding["name"] for finding in diagnosis["findings"]}
    assert "dead units" in names
    dead = next(f for f in diagnosis["findings"] if f["name"] == "dead units")
    assert tags[f"diagnosis.cause.dead_units.layer{dead['layer']}"] == dead["text"]
    assert dead["text"] in tags["diagnosis.causes"]
    assert dead["fraction"] >= 0.5


def test_a_healthy_run_says_no_cause(store):
    run_id = store.make_run()
    tags = store.client().get_run(run_id).data.tags
    assert tags["diagnosis.causes"] == "none"
    diagnosis = json.loads((store.artifacts / run_id / "artifacts" / "diagnosis.json").read_text())
    assert diagnosis["findings"] == []


def test_inspect_off_records_no_layer_metric_picture_or_cause(store):
    run_id = store.make_run("trainer.inspect=false", "tracking.log_plots=true")
    run = store.client().get_run(run_id)
    assert not [k for k in run.data.metrics if "/" in k]
    assert "diagnosis.causes" not in run.data.tags
    artifacts = _artifacts(store, run_id)
    assert "learning_curves.png" in artifacts
    assert not set(PICTURES) & set(artifacts)


def test_reproduce_compares_the_layer_statistics(store, capsys):
    run_id = store.make_run("tracking.log_every=2")
    assert store.command("reproduce", run_id) == 0
    out = capsys.readouterr().out
    # 5 losses/accuracies/lr + 17 layer statistics, at steps 1, 2, 4, 6
    assert "22 per-epoch metrics x 4 epochs" in out
    assert "result: bit-identical" in out


def test_reproduce_catches_an_edited_layer_statistic(store, capsys):
    import sqlite3

    run_id = store.make_run()
    with sqlite3.connect(store.root / "mlruns" / "mlflow.db") as db:
        db.execute(
            "UPDATE metrics SET value=value*1.0000001 WHERE key='layer2/grad_norm' AND step=3 "
            "AND run_uuid=?",
            (run_id,),
        )
    assert store.command("reproduce", run_id) == 1
    assert "layer2/grad_norm at epoch 3: recorded" in capsys.readouterr().out


def test_gradient_check_logs_its_worst_error(store):
    run_id = store.make_run("trainer.gradient_check=true")
    metrics = store.client().get_run(run_id).data.metrics
    assert 0 < metrics["gradient_check_max_error"] < 1e-6


def test_gradient_check_stops_a_run_whose_backprop_is_wrong(store, monkeypatch):
    from nnexp.nn.activations import Tanh

    backward = Tanh.backward
    monkeypatch.setattr(Tanh, "backward", lambda self, grad: backward(self, grad) * 1.5)
    with pytest.raises(NnexpError) as caught:
        store.make_run("trainer.gradient_check=true", "model.hidden_sizes=[4]")
    message = str(caught.value)
    assert message.startswith("gradient check failed: layer 1 (")
    assert " has relative error 0.2" in message  # |1.5g - g| / (|1.5g| + |g|)
    assert "(threshold 0.0001)" in message and "\n" not in message
    run = store.client().search_runs(["0"] + [e.experiment_id for e in
                                              store.client().search_experiments()])[0]  # fmt: skip
    assert run.info.status == "FAILED"
    assert run.data.metrics["gradient_check_max_error"] > 1e-4
    assert run.data.tags["error"].startswith("GradientCheckFailed: gradient check failed: layer 1")


def test_a_run_recorded_before_layer_statistics_reproduces_without_them(store, capsys):
    import sqlite3

    run_id = store.make_run("trainer.inspect=false")
    # make it look like a run from before trainer.inspect existed: no param, no config key
    with sqlite3.connect(store.root / "mlruns" / "mlflow.db") as db:
        db.execute("DELETE FROM params WHERE key='trainer.inspect' AND run_uuid=?", (run_id,))
    config = store.artifacts / run_id / "artifacts" / "config.yaml"
    text = config.read_text()
    assert "  inspect: false\n" in text
    config.write_text(text.replace("  inspect: false\n", ""))
    assert store.command("reproduce", run_id) == 0
    out = capsys.readouterr().out
    assert "5 per-epoch metrics x 6 epochs" in out and "result: bit-identical" in out


def test_compare_boundaries_skips_runs_without_a_boundary(store, capsys, tmp_path):
    moons = store.make_run()
    sine = store.make_run("data=sine")
    output = tmp_path / "cmp.png"
    assert store.command("compare", moons, sine, "--output", str(output), "--boundaries") == 0
    out = capsys.readouterr().out
    assert f"no decision boundary for mlp-sine-adam-lr0.01-s0 ({sine[:8]}): regression on 1 " \
        "feature (data=sine)" in out  # fmt: skip
    assert f"decision boundaries: {tmp_path / 'cmp-boundaries.png'}" in out
    assert (tmp_path / "cmp-boundaries.png").stat().st_size > 1000


def test_one_feature_regression_draws_its_fitted_curve(store):
    run_id = store.make_run("data=sine", "tracking.log_plots=true")
    artifacts = _artifacts(store, run_id)
    assert "fitted_curve.png" in artifacts
    assert "decision_boundary.png" not in artifacts
    assert {"network_health.png", "histograms.png"} <= set(artifacts)


def test_the_drawing_children_draw_what_one_process_draws(tmp_path, monkeypatch):
    # The pictures are drawn by two forked children (the network-health figure in one, the
    # others in the second): the files must be the ones a single process draws, byte for byte.
    import os

    import nnexp.inspection as inspection
    from nnexp.config.compose import compose_config
    from nnexp.inspect_plots import (
        draw_run_pictures,
        picture_inputs,
        start_drawing,
        wait_drawing,
    )
    from nnexp.nn.inspect import LayerProbe
    from nnexp.run import run_experiment

    monkeypatch.chdir(tmp_path)
    # snapshots too (histograms), as a tracked run that logs pictures keeps them
    monkeypatch.setattr(
        inspection, "make_probe", lambda cfg, model: LayerProbe(model, log_every=1, snapshots=True)
    )
    result = run_experiment(
        compose_config(["data.n_samples=120", "trainer.epochs=6", "tracking=off"])
    )
    inputs = picture_inputs(result)
    # the pictures are titled with the run's name, seed included, as the learning curves are
    assert inputs["title"] == "mlp-moons-adam-lr0.01-s0"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    alone = draw_run_pictures(inputs, str(tmp_path / "one"))
    pids = start_drawing(inputs, str(tmp_path / "two"))
    assert len(pids) == 2
    forked = wait_drawing(pids, str(tmp_path / "two"))
    assert sorted(os.path.basename(p) for p in alone) == PICTURES
    assert sorted(os.path.basename(p) for p in forked) == PICTURES
    for name in PICTURES:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
