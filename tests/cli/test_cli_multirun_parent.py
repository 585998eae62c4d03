"""Issue 12.13: a multirun's parent run tells whether every job succeeded, and its command."""

from __future__ import annotations

from nnexp_testing import FAST


def test_a_failing_job_fails_the_multirun_parent(nnexp_cmd):
    result = nnexp_cmd.run("-m", "optimizer.lr=0.01,-1", *FAST)
    assert result.returncode == 2, result.stderr
    assert "optimizer.lr" in result.stderr
    runs = nnexp_cmd.runs()
    (parent,) = [r for r in runs if r.data.tags.get("nnexp.kind") == "multirun"]
    children = [r for r in runs if r.data.tags.get("nnexp.kind") == "run"]
    assert [c.info.status for c in children] == ["FINISHED"]  # the good job ran
    assert parent.info.status == "FAILED"
    assert parent.data.tags["command"] == "python -m nnexp -m optimizer.lr=0.01,-1 " + " ".join(
        FAST
    )
