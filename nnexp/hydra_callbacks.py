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
#: The keys the multirun sweeps (``model.activation`` in ``-m model.activation=relu,tanh``),
#: comma-separated, for the jobs' run names (see :func:`job_run_name`).
SWEPT_KEYS_ENV = "NNEXP_MULTIRUN_SWEPT"
#: Keys whose value the default run name already shows (``mlp-moons-adam-lr0.01-s0``).
NAMED_KEYS = ("model", "data", "optimizer", "optimizer.lr", "seed")
MULTIRUN_YAML = "multirun.yaml"


class MultirunParent(Callback):
    """Create the parent run of a multirun and end it when the multirun ends."""

    def __init__(self) -> None:
        self.recorder: Any = None
        self.parent_text = ""
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        self.sweep_dir = discard_multirun_yaml(config)
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(list(config.hydra.overrides.task)))
        from nnexp.errors import ConfigError, NnexpError, Uncaught
        from nnexp.multirun_check import check_job_file_secrets

        try:  # before any job file is written
            check_job_file_secrets(config)
        except ConfigError as error:
            self._discard()
            raise Uncaught(error) from None
        if not config.tracking.enabled or config.get("sweep") is not None:
            return
        from nnexp.cmdline import command_line, shell_line
        from nnexp.multirun_check import check_cluster_store, check_multirun_values
        from nnexp.tracking import RunRecorder, open_store

        try:  # before the parent exists; through Hydra, which would only warn about it
            check_cluster_store(config)
            check_multirun_values(
                list(config.hydra.overrides.task),
                config.hydra.runtime.config_sources,
                config.hydra.job.config_name,
            )
        except ConfigError as error:
            self._discard()
            raise Uncaught(error) from None
        tracking = config.tracking
        try:  # a store refused (a bad URI, MLFLOW_RUN_ID): one line, not Hydra's warning first
            store = open_store(tracking.uri, tracking.experiment_name, tracking.artifact_location)
        except NnexpError as error:  # ConfigError, TrackingError
            self._discard()
            raise Uncaught(error) from None
        overrides = shell_line(list(config.hydra.overrides.task))
        self.recorder = RunRecorder(
            store,
            run_name=f"multirun {overrides}"[:250],
            tags={
                "nnexp.kind": "multirun",
                "overrides": overrides,
                "command": command_line(sys.argv[1:]),
                "nnexp.swept": os.environ[SWEPT_KEYS_ENV],
            },
        ).__enter__()
        os.environ[PARENT_RUN_ENV] = self.recorder.run_id
        from nnexp.progress import emit

        self.parent_text = parent_line(self.recorder.run_id, store.display_uri, tracking.uri)
        emit(self.parent_text)

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        redact_hydra_files(config)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        os.environ.pop(SWEPT_KEYS_ENV, None)
        if self.recorder is not None:
            from nnexp.tracking.seed_summary import format_seed_summary, summarize_seed_jobs

            stats = summarize_seed_jobs(self.recorder.store, self.recorder.run_id)
            if stats:
                print(format_seed_summary(stats), flush=True)
            from nnexp.cli import _job_errors  # the jobs' errors, kept for the exit code
            from nnexp.progress import emit

            emit(self.parent_text)  # again: the jobs' summaries scrolled the first one away
            # one failed job fails the multirun (the first error names it); all fine: FINISHED
            self.recorder.end(_job_errors[0] if _job_errors else None)
            os.environ.pop(PARENT_RUN_ENV, None)
            self.recorder = None
        self._discard()

    def _discard(self) -> None:
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


def redact_hydra_files(config: Any) -> None:
    """With ``hydra.output_subdir`` set (nnexp's default is null), Hydra saves the job's
    ``config.yaml``, ``hydra.yaml`` and ``overrides.yaml`` just before ``on_job_start``: a
    password given in a URI is replaced by ``***`` there, as in everything nnexp writes."""
    subdir = config.hydra.output_subdir
    if subdir is None:
        return
    from nnexp.redact import redact

    folder = Path(str(config.hydra.runtime.output_dir)) / str(subdir)
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        path = folder / name
        with contextlib.suppress(OSError):
            text = path.read_text()
            if redact(text) != text:
                partial = path.with_name(f".{name}.redacting")
                partial.write_text(redact(text))
                partial.replace(path)


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


def parent_line(run_id: str, display_uri: str, uri: str) -> str:
    """Where a multirun's jobs are grouped, and the command that lists them."""
    from nnexp.commands.common import default_tracking_uri
    from nnexp.redact import redact

    store = "" if uri in (None, default_tracking_uri()) else f" --tracking-uri {redact(uri)}"
    return (
        f"nnexp: multirun parent run {run_id} in {display_uri}; its jobs: "
        f"python -m nnexp runs --parent {run_id[:8]}{store}"
    )


def swept_keys(overrides: list[str]) -> list[str]:
    """The keys a multirun sweeps over (``a=1,2``, ``range(...)``, ``choice(...)``), in order."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # Hydra reports bad overrides itself
        return []
    return [override.key_or_group for override in parsed if override.is_sweep_override()]


def job_run_name(cfg: Any, overrides: list[str]) -> str:
    """``tracking.run_name`` if set; else ``mlp-moons-adam-lr0.01-s0``, followed in a multirun
    job by the overrides it sweeps that the name does not show yet
    (``mlp-moons-adam-lr0.01-s0 model.activation=tanh``), so the jobs tell apart in the UI."""
    from nnexp.run import default_run_name

    if cfg.tracking.run_name:
        return str(cfg.tracking.run_name)
    name = default_run_name(cfg)
    swept = set(filter(None, os.environ.get(SWEPT_KEYS_ENV, "").split(",")))
    shown = [line for line in overrides if _key(line) in swept and _key(line) not in NAMED_KEYS]
    return " ".join([name, *shown])[:250]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")
