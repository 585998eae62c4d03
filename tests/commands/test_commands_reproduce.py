"""``python -m nnexp reproduce``: bit-exact re-runs, and every way a record can be off is caught."""

from __future__ import annotations

import sqlite3

import pytest

from nnexp.errors import NnexpError


def test_single_run_reproduces_bit_for_bit(store, capsys):
    run_id = store.make_run("optimizer.lr=0.02", "seed=3")
    assert store.command("reproduce", run_id) == 0
    out = capsys.readouterr().out
    assert f"reproduce {run_id}" in out
    assert "config: config.yaml artifact, matches the" in out
    assert "data: fingerprint" in out and "(combined, train, val, test)" in out
    # train/val loss and accuracy, lr, and 17 layer statistics (nnexp.nn.inspect: 3 layers x
    # grad/weight norm, update ratio, pre-activation mean/std, + 2 tanh saturated fractions)
    assert "22 per-epoch metrics x 6 epochs and" in out
    assert "result: bit-identical" in out


def test_short_id_prefix_is_accepted(store, capsys):
    run_id = store.make_run()
    assert store.command("reproduce", run_id[:8]) == 0
    assert f"reproduce {run_id}" in capsys.readouterr().out


def test_cli_reproduces_a_cli_run_with_the_default_store(tmp_path, cli):
    made = cli(
        tmp_path,
        "data.n_samples=120",
        "trainer.epochs=5",
        "trainer.progress=false",
        "tracking.log_model=false",
    )
    assert made.returncode == 0, made.stderr
    run_id = next(line.split()[2] for line in made.stdout.splitlines() if "MLflow run:" in line)
    result = cli(tmp_path, "reproduce", run_id)  # default store: sqlite:///mlruns/mlflow.db
    assert result.returncode == 0, result.stderr
    assert "result: bit-identical" in result.stdout
    assert "nnexp: error" not in result.stderr


def test_tampered_param_is_detected(store, capsys):
    run_id = store.make_run("optimizer.lr=0.01")
    with sqlite3.connect(store.root / "mlruns" / "mlflow.db") as db:
        db.execute(
            "UPDATE params SET value='0.05' WHERE key='optimizer.lr' AND run_uuid=?", (run_id,)
        )
    assert store.command("reproduce", run_id) == 1
    out = capsys.readouterr().out
    assert "the record is inconsistent: param optimizer.lr='0.05'" in out
    assert "config.yaml has optimizer.lr='0.01'" in out
    assert "re-run" not in out  # nothing is trained from an inconsistent record


def test_tampered_config_artifact_is_detected(store, capsys):
    run_id = store.make_run("model.hidden_sizes=[8]")
    client = store.client()
    text = (store.artifacts / run_id / "artifacts" / "config.yaml").read_text()
    assert "  - 8\n" in text
    client.log_text(run_id, text.replace("  - 8\n", "  - 9\n"), "config.yaml")
    assert store.command("reproduce", run_id) == 1
    out = capsys.readouterr().out
    assert "param model.hidden_sizes='[8]' but config.yaml has model.hidden_sizes='[9]'" in out


def test_tampered_metric_is_named_with_epoch_and_both_values(store, capsys):
    run_id = store.make_run()
    client = store.client()
    original = {m.step: m.value for m in client.get_metric_history(run_id, "val_loss")}
    client.log_metric(run_id, "val_loss", original[4] + 1e-12, step=4)
    assert store.command("reproduce", run_id) == 1
    out = capsys.readouterr().out
    expected = f"differs: val_loss at epoch 4: recorded {original[4] + 1e-12!r}, reproduced "
    assert expected + repr(original[4]) in out


def test_tampered_final_metric_is_detected(store, capsys):
    run_id = store.make_run()
    client = store.client()
    client.log_metric(run_id, "best_val_loss", 0.123, step=0)
    assert store.command("reproduce", run_id) == 1
    assert "differs: final metric best_val_loss: recorded 0.123" in capsys.readouterr().out


def test_config_rebuilt_from_params_when_the_artifact_is_gone(store, capsys):
    run_id = store.make_run(
        "optimizer=sgd", "optimizer.lr=0.05", "data=circles", "trainer.batch_size=null"
    )
    params = store.client().get_run(run_id).data.params
    # unset values are not logged (no "null" strings, no sweep=null outside a sweep) ...
    assert "null" not in params.values()
    assert not {"sweep", "data.seed", "trainer.batch_size", "tracking.run_name"} & set(params)
    assert params["trainer.epochs"] == "6"
    (store.artifacts / run_id / "artifacts" / "config.yaml").unlink()
    # ... and come back as null: a batch size of 32 (the schema's default) would train otherwise
    assert store.command("reproduce", run_id) == 0
    out = capsys.readouterr().out
    assert "config: params (no config.yaml artifact)" in out
    assert "result: bit-identical" in out
    # ... and then a changed param changes the training: caught at the first epoch
    with sqlite3.connect(store.root / "mlruns" / "mlflow.db") as db:
        db.execute(
            "UPDATE params SET value='0.07' WHERE key='optimizer.lr' AND run_uuid=?", (run_id,)
        )
    assert store.command("reproduce", run_id) == 1
    assert "differs: train_loss at epoch 1: recorded" in capsys.readouterr().out


def test_changed_data_fingerprint_is_reported(store, capsys):
    run_id = store.make_run()
    store.client().set_tag(run_id, "data.fingerprint.val", "0000000000000000")
    assert store.command("reproduce", run_id) == 1
    out = capsys.readouterr().out
    assert "data fingerprint (val) is" in out
    assert "the run recorded 0000000000000000" in out


def test_version_differences_are_warnings_not_failures(store, capsys):
    run_id = store.make_run()
    client = store.client()
    client.set_tag(run_id, "numpy_version", "0.0.1")
    client.set_tag(run_id, "blas", "refblas 0.1")
    client.set_tag(run_id, "git_commit", "0123456789abcdef0123456789abcdef01234567")
    client.set_tag(run_id, "nnexp_version", "0.0.0")
    client.set_tag(run_id, "git_dirty", "true")
    assert store.command("reproduce", run_id) == 0
    captured = capsys.readouterr()
    assert "result: bit-identical" in captured.out
    warnings = [line for line in captured.err.splitlines() if line.startswith("nnexp: warning:")]
    assert len(warnings) == 5, warnings  # the README's claim: a warning each, not a failure
    assert any("numpy version differs: the run recorded 0.0.1" in w for w in warnings)
    assert any("BLAS differs: the run recorded refblas 0.1" in w for w in warnings)
    assert any(
        "git commit differs: the run recorded 0123456789abcdef0123456789abcdef01234567" in w
        for w in warnings
    )
    assert any("nnexp version differs: the run recorded 0.0.0" in w for w in warnings)
    assert any("uncommitted changes (git_dirty=true)" in w for w in warnings)
    # and without a difference there is no warning
    run_id = store.make_run()
    assert store.command("reproduce", run_id) == 0
    err = capsys.readouterr().err
    assert not [line for line in err.splitlines() if "differs" in line], err


class TrialPruned(Exception):
    """Named like Optuna's: the recorder ends the run FINISHED with trial_state=PRUNED."""


class PruneAt:
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, record):
        if record["epoch"] == self.epoch:
            raise TrialPruned(f"pruned at epoch {self.epoch}")


def test_pruned_run_is_compared_over_its_recorded_epochs(store, capsys):
    with pytest.raises(TrialPruned):
        store.make_run(callbacks=[PruneAt(3)])
    [run] = store.client().search_runs(["1"])
    assert run.data.tags["trial_state"] == "PRUNED"
    assert store.command("reproduce", run.info.run_id) == 0
    out = capsys.readouterr().out
    assert "the run ended PRUNED after epoch 3" in out
    assert "22 per-epoch metrics x 3 epochs and 0 final metrics" in out
    assert "result: bit-identical" in out


def test_record_logs_the_reproduction_as_a_tagged_run(store, capsys):
    run_id = store.make_run()
    assert store.command("reproduce", run_id, "--record") == 0
    out = capsys.readouterr().out
    client = store.client()
    [copy] = client.search_runs(["1"], filter_string=f"tags.reproduces = '{run_id}'")
    assert f"recorded as run {copy.info.run_id}" in out
    assert copy.data.tags["reproduce.result"] == "bit-identical"
    assert copy.data.tags["nnexp.kind"] == "reproduction"
    assert (
        copy.data.metrics["best_val_loss"] == client.get_run(run_id).data.metrics["best_val_loss"]
    )


def test_unknown_run_id_is_one_error_line(store, tmp_path, cli):
    store.make_run()
    result = cli(tmp_path, "reproduce", "0123456789abcdef", "--tracking-uri", store.uri)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"nnexp: error: no run with id '0123456789abcdef' in the MLflow store {store.uri}"
    ]


def test_missing_store_is_an_error_and_is_not_created(tmp_path):
    from nnexp.commands import reproduce

    uri = f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}"
    with pytest.raises(NnexpError, match="no MLflow store at"):
        reproduce.main(["abc", "--tracking-uri", uri])
    assert not (tmp_path / "nowhere").exists()


def test_sweep_parent_is_refused_with_a_pointer_to_its_runs(store):
    from nnexp.tracking import RunRecorder, open_store

    tracking = open_store(store.uri, "nnexp", str(store.artifacts))
    with RunRecorder(tracking, tags={"nnexp.kind": "sweep"}) as parent:
        pass
    with pytest.raises(NnexpError, match=r"is a sweep parent.*runs --parent"):
        store.command("reproduce", parent.run_id)


def test_a_recorded_value_without_effect_still_replays(store, capsys):
    """A run recorded before no-effect values were refused (data=xor with the fixture's
    data.n_samples=120, which XOR's loader never took) reproduces: the value had no effect then
    and has none now; refusing it would leave the record unreproducible."""
    from nnexp.config.compose import compose_config
    from nnexp.config.validate import validate_config
    from nnexp.errors import ConfigError
    from nnexp.run import run_experiment

    overrides = store.overrides("data=xor", "trainer.batch_size=null")
    assert "data.n_samples=120" in overrides
    cfg = compose_config(overrides, validate=False)  # as the previous version took it
    with pytest.raises(ConfigError, match="data=xor does not take it"):
        validate_config(cfg)  # what a new run is now told
    run_id = run_experiment(cfg, overrides=overrides).run_id
    assert store.client().get_run(run_id).data.params["data.n_samples"] == "120"
    assert store.command("reproduce", run_id) == 0
    assert "result: bit-identical" in capsys.readouterr().out
