"""Group a Hydra multirun (``python -m nnexp -m optimizer.lr=0.01,0.1``) under one MLflow parent.

Hydra calls ``on_multirun_start`` once before the jobs and ``on_multirun_end`` after them. The
parent run id is handed to the jobs through an environment variable, which also reaches jobs
that a launcher starts in other processes.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from hydra.experimental.callback import Callback

PARENT_RUN_ENV = "NNEXP_MULTIRUN_PARENT_ID"


class MultirunParent(Callback):
    """Create the parent run of a multirun and end it when the multirun ends."""

    def __init__(self) -> None:
        self.recorder: Any = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        if not config.tracking.enabled or config.get("sweep") is not None:
            return
        from nnexp.tracking import RunRecorder, open_store

        tracking = config.tracking
        store = open_store(tracking.uri, tracking.experiment_name, tracking.artifact_location)
        overrides = " ".join(config.hydra.overrides.task)
        self.recorder = RunRecorder(
            store,
            run_name=f"multirun {overrides}"[:250],
            tags={
                "nnexp.kind": "multirun",
                "overrides": overrides,
                # sys.argv holds the -m/--multirun flag already
                "command": "python -m nnexp " + " ".join(sys.argv[1:]),
            },
            activate=False,
        ).__enter__()
        os.environ[PARENT_RUN_ENV] = self.recorder.run_id

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self.recorder is not None:
            from nnexp.cli import _job_errors  # the jobs' errors, kept for the exit code

            # one failed job fails the multirun (the first error names it); all fine: FINISHED
            self.recorder.end(_job_errors[0] if _job_errors else None)
            os.environ.pop(PARENT_RUN_ENV, None)
            self.recorder = None
