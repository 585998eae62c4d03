"""Group a Hydra multirun (``python -m nnexp -m optimizer.lr=0.01,0.1``) under one MLflow parent.

Hydra calls ``on_multirun_start`` once before the jobs and ``on_multirun_end`` after them. The
parent run id is handed to the jobs through an environment variable, which also reaches jobs
that a launcher starts in other processes.

Hydra's sweeper also saves the whole composed config, overrides included, as
``<hydra.sweep.dir>/multirun.yaml``: a ``tracking.uri`` password in clear, even with
``tracking=off``. Nothing reads that file (the parent run records the command and overrides),
so it is never written: before the sweeper runs, ``multirun.yaml`` is made a link to the null
device, and at the end the link and the (then empty) sweep folder are removed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

PARENT_RUN_ENV = "NNEXP_MULTIRUN_PARENT_ID"
MULTIRUN_YAML = "multirun.yaml"


class MultirunParent(Callback):
    """Create the parent run of a multirun and end it when the multirun ends."""

    def __init__(self) -> None:
        self.recorder: Any = None
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        self.sweep_dir = discard_multirun_yaml(config)
        if not config.tracking.enabled or config.get("sweep") is not None:
            return
        from nnexp.cmdline import command_line, shell_line
        from nnexp.tracking import RunRecorder, open_store

        tracking = config.tracking
        store = open_store(tracking.uri, tracking.experiment_name, tracking.artifact_location)
        overrides = shell_line(list(config.hydra.overrides.task))
        self.recorder = RunRecorder(
            store,
            run_name=f"multirun {overrides}"[:250],
            tags={
                "nnexp.kind": "multirun",
                "overrides": overrides,
                "command": command_line(sys.argv[1:]),
            },
            activate=False,
        ).__enter__()
        os.environ[PARENT_RUN_ENV] = self.recorder.run_id

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self.recorder is not None:
            self.recorder.end(None)
            os.environ.pop(PARENT_RUN_ENV, None)
            self.recorder = None
        if self.sweep_dir is not None:
            remove_sweep_dir(self.sweep_dir)
            self.sweep_dir = None


def discard_multirun_yaml(config: Any) -> Path | None:
    """Point ``<hydra.sweep.dir>/multirun.yaml`` at the null device; return the folder."""
    try:
        folder = Path(str(config.hydra.sweep.dir))
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / MULTIRUN_YAML
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(os.devnull)
    except OSError:
        return None  # Hydra will say what is wrong with the folder itself
    return folder


def remove_sweep_dir(folder: Path) -> None:
    """Remove the link, then the sweep folder and its parents up to ``mlruns`` while empty."""
    target = folder / MULTIRUN_YAML
    with contextlib.suppress(OSError):
        if target.is_symlink():
            target.unlink()
    stop = Path.cwd().resolve()
    current = folder.resolve()
    while current != stop and current.name not in ("mlruns", "") and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
