"""``-m 'optimizer=glob(adam*)'``: a glob sweep is a list of options, grouped under one parent.

Hydra's basic sweeper expands a glob with its config loader; nnexp's check of the jobs' values
(``nnexp.multirun_check``) once expanded it without one: the check raised inside the multirun's
callback, Hydra turned that into a warning, and the jobs ran and were recorded with no parent.
"""

from __future__ import annotations

from nnexp_testing import NnexpCommand

TINY = ["data.n_samples=60", "trainer.epochs=2", "trainer.progress=false"]
NO_ARTIFACTS = ["tracking.log_plots=false", "tracking.log_model=false"]


def test_a_glob_multirun_groups_every_matching_option_under_its_parent(
    nnexp_cmd: NnexpCommand,
) -> None:
    result = nnexp_cmd.run("-m", "optimizer=glob(adam*)", *TINY, *NO_ARTIFACTS)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    runs = nnexp_cmd.runs()
    (parent,) = [r for r in runs if r.data.tags.get("nnexp.kind") == "multirun"]
    children = [r for r in runs if r.data.tags.get("nnexp.kind") == "run"]
    assert sorted(c.data.params["optimizer.name"] for c in children) == ["adam", "adamw"]
    assert {c.data.tags.get("mlflow.parentRunId") for c in children} == {parent.info.run_id}
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["nnexp.swept"] == "optimizer"
