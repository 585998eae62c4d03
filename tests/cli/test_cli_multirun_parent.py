"""Issue 12.13: a multirun's parent run tells whether every job succeeded, and its command."""

from __future__ import annotations

import pytest
from nnexp_testing import FAST


def test_a_failing_job_fails_the_multirun_parent(nnexp_cmd):
    # a batch larger than the training split: only the job, with its data loaded, can tell
    result = nnexp_cmd.run("-m", "trainer.batch_size=16,5000", *FAST)
    assert result.returncode == 2, result.stderr
    assert "trainer.batch_size=5000" in result.stderr
    runs = nnexp_cmd.runs()
    (parent,) = [r for r in runs if r.data.tags.get("nnexp.kind") == "multirun"]
    children = [r for r in runs if r.data.tags.get("nnexp.kind") == "run"]
    assert [c.info.status for c in children] == ["FINISHED"]  # the good job ran
    assert parent.info.status == "FAILED"
    assert parent.data.tags["command"] == (
        "python -m nnexp -m trainer.batch_size=16,5000 " + " ".join(FAST)
    )


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (
            "optimizer.lr=0.1,abc",
            "nnexp: error: optimizer.lr=abc: Value 'abc' of type 'str' could not be converted to "
            "Float",
        ),
        (
            "model.activation=tanh,relux",
            "nnexp: error: model.activation='relux' is invalid: valid choices: identity, sigmoid, "
            "tanh, relu, leaky_relu, elu, gelu, softplus",
        ),
        ("optimizer.lr=0.1,-1", "nnexp: error: optimizer.lr=-1"),
    ],
)
def test_a_bad_value_is_refused_before_the_parent_exists(nnexp_cmd, values, error):
    """Every value of every swept key is checked before the parent run is created: a bad one
    leaves no run, not even a FAILED parent, and no Hydra folder (it once left both)."""
    result = nnexp_cmd.run("-m", values, *FAST)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(error) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    mlruns = nnexp_cmd.workdir / "mlruns"
    assert not mlruns.exists() or sorted(p.name for p in mlruns.iterdir()) == []


def test_a_slurm_multirun_with_a_local_store_is_refused_before_submitting(nnexp_cmd):
    """The jobs of ``hydra/launcher=submitit_slurm`` run on other nodes: a local SQLite store is
    refused as ``sweep.launcher=slurm`` refuses it (Hydra once swallowed the error)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = nnexp_cmd.run("-m", "hydra/launcher=submitit_slurm", "optimizer.lr=0.1,1", *FAST)
    assert result.returncode == 2, result.stderr
    store = f"sqlite:///{nnexp_cmd.workdir}/mlruns/mlflow.db"
    assert result.stderr == (
        f"nnexp: error: tracking.uri={store} is a local MLflow store, which Slurm jobs on other "
        "nodes cannot share: use an MLflow server (tracking=server tracking.uri=http://HOST:PORT, "
        "README 'Scale out'), or launcher.shared_filesystem=true if every node mounts this path\n"
    )
    mlruns = nnexp_cmd.workdir / "mlruns"
    assert not mlruns.exists() or sorted(p.name for p in mlruns.iterdir()) == []
