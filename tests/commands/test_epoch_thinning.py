"""``tracking.log_every``: the first, every n-th and the last epoch are logged, and a thinned
run still reproduces point for point."""

from __future__ import annotations

import pytest

from nnexp.epoch_thinning import EpochThinner


def logged(every: int, epochs: int) -> list[int]:
    thinner, steps = EpochThinner(every), []
    for epoch in range(1, epochs + 1):
        if thinner.take(epoch, {"loss": 1.0}) is not None:
            steps.append(epoch)
    held = thinner.last()
    if held is not None:
        steps.append(held[0])
    return steps


@pytest.mark.parametrize(
    ("every", "epochs", "steps"),
    [
        (1, 4, [1, 2, 3, 4]),
        (5, 15, [1, 5, 10, 15]),
        (5, 12, [1, 5, 10, 12]),  # stopped early: the last epoch is logged anyway
        (4, 1, [1]),
        (10, 3, [1, 3]),
    ],
)
def test_first_every_nth_and_last_epoch(every, epochs, steps):
    assert logged(every, epochs) == steps


def test_last_is_given_once():
    thinner = EpochThinner(3)
    assert thinner.take(1, {"a": 1}) is not None and thinner.take(2, {"a": 2}) is None
    assert thinner.last() == (2, {"a": 2}) and thinner.last() is None


def test_thinned_run_records_those_steps_and_reproduces(store, capsys):
    run_id = store.make_run("tracking.log_every=4", "trainer.epochs=10")
    client = store.client()
    run = client.get_run(run_id)
    assert run.data.params["tracking.log_every"] == "4"
    for key in ("train_loss", "val_loss", "val_accuracy"):
        steps = sorted(m.step for m in client.get_metric_history(run_id, key))
        assert steps == [1, 4, 8, 10], key
    history = client.get_metric_history(run_id, "val_loss")
    assert run.data.metrics["final_val_loss"] == max(history, key=lambda m: m.step).value
    # the README's claim: history.csv keeps every epoch (and its epoch_time), thinned or not
    import csv

    path = client.download_artifacts(run_id, "history.csv", str(store.root))
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == list(range(1, 11))
    assert all(float(row["epoch_time"]) > 0 for row in rows)
    logged = {m.step: m.value for m in history}
    assert {e: float(rows[e - 1]["val_loss"]) for e in logged} == logged  # the same values
    assert store.command("reproduce", run_id) == 0
    out = capsys.readouterr().out
    assert "x 4 epochs" in out and "result: bit-identical" in out


def test_log_every_below_one_is_refused():
    from nnexp.config.compose import compose_config
    from nnexp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^tracking\.log_every=0 is invalid: must be an integer"):
        compose_config(["tracking.log_every=0"])
