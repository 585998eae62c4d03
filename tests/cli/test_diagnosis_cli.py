"""The outside tester's command, as a user types it: the UNSTABLE verdict reaches the console
and the MLflow record (read back), and no sentence says the train loss fell."""

from __future__ import annotations

import json
from pathlib import Path

from nnexp_testing import NnexpCommand


def test_lr_03_dead_relu_run_is_unstable_on_the_console_and_in_mlflow(tmp_path):
    cmd = NnexpCommand(tmp_path)
    done = cmd.run(
        "+experiment=dead_relu",
        "data.n_samples=300",
        "trainer.epochs=40",
        "trainer.progress=false",
        "tracking.log_plots=false",
        "tracking.log_model=false",
    )
    assert done.returncode == 0, done.stderr
    [line] = [s for s in done.stdout.splitlines() if s.startswith("  diagnosis: ")]
    assert line.startswith(
        "  diagnosis: UNSTABLE - Validation loss (4-epoch means) rose 179% from its minimum "
        "0.02632 (mean of epochs 25-28; best single epoch 16) to 0.07346 by epoch 40, and train "
        "loss rose too, from 0.02173 (mean of epochs 25-28) to 0.1258 (mean of epochs 34-37), "
        "ending at 0.0255 by epoch 40"
    ), line
    assert line.endswith("lower the learning rate or clip gradients.")
    assert "fell" not in line and "OVERFIT" not in done.stdout
    [run] = cmd.runs("dead_relu")
    tags = run.data.tags
    assert tags["diagnosis"] == "unstable"
    assert round(float(tags["diagnosis.train_at_min_val"]), 4) == 0.0217
    assert round(float(tags["diagnosis.final_train_loss"]), 4) == 0.0255
    local = cmd.client().download_artifacts(run.info.run_id, "diagnosis.json", str(tmp_path))
    recorded = json.loads(Path(local).read_text(encoding="utf-8"))
    assert (
        recorded["label"] == "unstable"
        and recorded["reason"] == line[len("  diagnosis: UNSTABLE - ") :]
    )
