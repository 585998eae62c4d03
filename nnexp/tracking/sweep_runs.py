"""The study's MLflow records: one parent run per study, tags on the trials' child runs.

The parent is created once (under the sweep lock) with the tags ``nnexp.kind=sweep``,
``nnexp.study=<name>`` and ``nnexp.storage=<storage key>`` (the storage as it sits inside the
project, see :func:`nnexp.sweep.identity.storage_key`, so moving the project keeps it); every
later launch or worker finds it again by those tags, so a resumed study keeps one parent. Each trial is an ordinary nnexp run
(``run_experiment``) nested under it, tagged with its trial number, state, sampled parameters
and override line. At the end the parent gets the best value, parameters and child run id, a CSV
of all trials, the plots, and the best trial's child run gets the full pyfunc model.

This is the sweep's adapter to MLflow (it uses :mod:`nnexp.tracking` for the store and runs and
``MlflowClient`` for searches and tags).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nnexp.tracking  # noqa: F401  # first: it quiets MLflow's logging before MLflow loads
from nnexp.redact import redact

KIND_TAG = "nnexp.kind"
STUDY_TAG = "nnexp.study"
STORAGE_TAG = "nnexp.storage"


class SweepRuns:
    """MLflow bookkeeping for one study."""

    def __init__(self, tracking: Any, study: str, storage: str, legacy_storage: str | None = None):
        from nnexp.tracking import open_store
        from nnexp.tracking.client import tracking_client

        self.store = open_store(tracking.uri, tracking.experiment_name, tracking.artifact_location)
        self.client = tracking_client(self.store.uri)
        self.study = study
        self.storage = redact(storage)
        # parents tagged before storage keys survived a move (an absolute journal path)
        self.legacy_storage = redact(legacy_storage) if legacy_storage else self.storage
        self.parent_id: str | None = None

    # -- parent ------------------------------------------------------------------------------
    def find_parent(self) -> str | None:
        runs = self.client.search_runs(
            [self.store.experiment_id],
            filter_string=f"tags.`{KIND_TAG}` = 'sweep' and tags.`{STUDY_TAG}` = '{self.study}'",
            order_by=["attributes.start_time ASC"],
        )
        known = (self.storage, self.legacy_storage)
        runs = [r for r in runs if r.data.tags.get(STORAGE_TAG) in known]
        return runs[0].info.run_id if runs else None

    def open_parent(self, spec: Any, command: str, sweep_yaml: str) -> str:
        """Find or create the parent run and mark it RUNNING (call under the sweep lock)."""
        run_id = self.find_parent()
        if run_id is None:
            tags = {
                KIND_TAG: "sweep",
                STUDY_TAG: self.study,
                STORAGE_TAG: self.storage,
                "command": redact(command),
                "mlflow.note.content": f"`{redact(command)}`",
            }
            run = self.client.create_run(
                self.store.experiment_id, run_name=f"sweep {self.study}", tags=tags
            )
            run_id = run.info.run_id
            from mlflow.entities import Param

            params = {
                "sweep.name": spec.name,
                "sweep.metric": ",".join(spec.objective_metrics),
                "sweep.direction": ",".join(spec.objective_directions),
                "sweep.sampler": spec.sampler.name,
                "sweep.pruner": spec.pruner.name,
                "sweep.space": ", ".join(spec.space),
            }
            self.client.log_batch(
                run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()]
            )
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.client.log_text(run_id, redact(sweep_yaml), "sweep.yaml")
        self.parent_id = run_id
        return run_id

    def end_parent(self, status: str) -> None:
        if self.parent_id is not None:
            self.client.set_terminated(self.parent_id, status=status)

    def log_progress(self, values: list[float] | None, done: int) -> None:
        """The best value so far as a parent metric, one point per finished trial."""
        from mlflow.entities import Metric

        if self.parent_id is None or not values:
            return
        now = int(time.time() * 1000)
        metrics = [
            Metric("best_value" if len(values) == 1 else f"best_value_{i}", float(v), now, done)
            for i, v in enumerate(values)
            if v == v
        ]
        if metrics:
            self.client.log_batch(self.parent_id, metrics=metrics)

    # -- children ----------------------------------------------------------------------------
    def tag_run(self, run_id: str, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, redact(str(v))[:5000]) for k, v in tags.items()]
        self.client.log_batch(run_id, tags=items)

    def end_orphan(self, number: int, reason: str) -> None:
        """End the RUNNING child run(s) of trial ``number`` as KILLED."""
        runs = self.client.search_runs(
            [self.store.experiment_id],
            filter_string=(
                f"tags.`{STUDY_TAG}` = '{self.study}' and tags.trial_number = "
                f"'{number}' and attributes.status = 'RUNNING'"
            ),
        )
        runs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == self.parent_id]
        for run in runs:
            self.tag_run(run.info.run_id, {"trial_state": "FAIL", "error": reason})
            self.client.set_terminated(run.info.run_id, status="KILLED")

    def end_confirm_orphan(self, label: str, seed: int, reason: str) -> None:
        """End the RUNNING confirm run of ``label`` with ``seed`` as KILLED."""
        runs = self.client.search_runs(
            [self.store.experiment_id],
            filter_string=(
                f"tags.`{STUDY_TAG}` = '{self.study}' and tags.`confirm.seed` = '{seed}' "
                f"and tags.`confirm.config` = '{label}' and attributes.status = 'RUNNING'"
            ),
        )
        for run in runs:
            if run.data.tags.get("mlflow.parentRunId") == self.parent_id:
                self.tag_run(run.info.run_id, {"trial_state": "FAIL", "error": reason})
                self.client.set_terminated(run.info.run_id, status="KILLED")

    def log_confirm(self, report: dict[str, Any], files: list[Path]) -> None:
        """The confirm phase's winner and intervals on the parent run, with its CSV and figure.

        Metrics ``confirm_<metric>_{mean,std,ci_low,ci_high}`` (and the same for each test
        metric) describe the winner; ``confirm_p_vs_<runner-up|base>`` the paired tests. They
        describe this phase only (tag ``confirm.phase``): each phase logs at the next step, and
        a ``confirm_*`` metric an earlier phase logged and this one has not (no runner-up with
        ``--top-k 1``) gets NaN at that step, since MLflow cannot delete a metric; a
        ``confirm.*`` tag this phase does not set is deleted.
        """
        from mlflow.entities import Metric

        if self.parent_id is None:
            return
        now = int(time.time() * 1000)
        earlier = self.client.get_run(self.parent_id).data
        step = self._confirm_step(earlier, report.get("phase"))
        metrics: list[Any] = []
        winner = next((r for r in report["configs"] if r["label"] == report["winner"]), None)
        tags: dict[str, Any] = {"confirm.winner": report["winner"] or "none"}
        if report.get("phase"):
            tags["confirm.phase"] = report["phase"]
        if winner is not None:
            from nnexp.cmdline import command_line

            tags["confirm.winner_trial"] = winner["trial"]
            tags["confirm.winner_command"] = command_line(winner["overrides"])
            for name, stats in winner["stats"].items():
                for key in ("mean", "std", "ci_low", "ci_high"):
                    if stats.get(key) == stats.get(key):  # not NaN
                        metrics.append(Metric(f"confirm_{name}_{key}", stats[key], now, step))
        for comp in report["comparisons"]:
            if "p_value" in comp:
                role = comp["role"].replace("-", "_")
                metrics.append(Metric(f"confirm_p_vs_{role}", comp["p_value"], now, step))
                tags[f"confirm.vs_{role}"] = comp["against"]
        logged = {m.key for m in metrics}
        stale = sorted(k for k in earlier.metrics if k.startswith("confirm_") and k not in logged)
        metrics += [Metric(key, math.nan, now, step) for key in stale]
        for key in sorted(k for k in earlier.tags if k.startswith("confirm.") and k not in tags):
            self.client.delete_tag(self.parent_id, key)
        self.tag_run(self.parent_id, tags)
        if metrics:
            self.client.log_batch(self.parent_id, metrics=metrics)
        self.client.log_text(
            self.parent_id, redact(json.dumps(report, indent=2, default=str)), "confirm.json"
        )
        for path in files:
            self.client.log_artifact(
                self.parent_id, str(path), "plots" if path.suffix == ".png" else None
            )

    def _confirm_step(self, earlier: Any, phase: str | None) -> int:
        """The step of ``phase``'s ``confirm_*`` metrics on the parent: the phase's number.

        0 for the first phase; the last step again when the parent already shows ``phase``
        (a resumed phase, or another worker's report of it); one past it for a new phase.
        """
        steps = [
            point.step
            for key in earlier.metrics
            if key.startswith("confirm_")
            for point in self.client.get_metric_history(self.parent_id, key)
        ]
        if not steps:
            return 0
        same = phase is not None and earlier.tags.get("confirm.phase") == phase
        return max(steps) + (0 if same else 1)

    def children(self) -> dict[int, Any]:
        """``{trial number: child run}`` (the latest run per number), from one search."""
        if self.parent_id is None:
            return {}
        runs = self.client.search_runs(
            [self.store.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{self.parent_id}'",
            max_results=50000,
        )
        found: dict[int, Any] = {}
        for run in sorted(runs, key=lambda r: r.info.start_time or 0):
            number = run.data.tags.get("trial_number")
            if number is not None and number.isdigit():
                found[int(number)] = run
        return found

    # -- the end -----------------------------------------------------------------------------
    def log_summary(self, summary: dict[str, Any], files: list[Path]) -> None:
        """Best value/params/run id as tags and metrics, trials CSV, plots, ``best.json``."""
        from mlflow.entities import Metric

        if self.parent_id is None:
            return
        tags = {f"best.{k}": v for k, v in summary.get("best_params", {}).items()}
        for key in (
            "best_trial",
            "best_run_id",
            "best_overrides",
            "best_command",
            "n_complete",
            "n_pruned",
            "n_failed",
        ):
            if summary.get(key) is not None:
                tags[key] = summary[key]
        if tags:
            self.tag_run(self.parent_id, tags)
        values = summary.get("best_values") or []
        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(summary[k]), now, 0) for k in ("n_complete", "n_pruned", "n_failed")
        ]
        for index, value in enumerate(values):
            metrics.append(
                Metric(
                    "best_value" if len(values) == 1 else f"best_value_{index}",
                    float(value),
                    now,
                    int(summary.get("n_counted", 0)),
                )
            )
        self.client.log_batch(self.parent_id, metrics=metrics)
        self.client.log_text(
            self.parent_id, json.dumps(summary, indent=2, default=str), "best.json"
        )
        for path in files:
            folder = "plots" if path.suffix == ".png" else None
            self.client.log_artifact(self.parent_id, str(path), folder)

    def log_best_model(self, run_id: str, overrides: list[str], composer: Any) -> str | None:
        """Log the pyfunc model into the best trial's child run from its ``model.npz``.

        The scaler is rebuilt from the trial's config (same data, same seed, same split), which
        is cheaper than writing a full model for every trial of a large sweep.
        """
        run = self.client.get_run(run_id)
        if run.data.tags.get("model_uri"):
            return run.data.tags["model_uri"]
        import os

        from mlflow.entities import RunTag

        from nnexp.build import build_splits

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from nnexp.nn import load_model
        from nnexp.tracking.pyfunc import log_pyfunc_model, model_tags

        cfg = composer.compose(overrides)
        dataset, splits = build_splits(cfg.data, int(cfg.seed))
        with tempfile.TemporaryDirectory(prefix="nnexp-best-") as tmp:
            local = self.client.download_artifacts(run_id, "model.npz", tmp)
            model = load_model(local)
        from nnexp.tracking.store import set_fluent_uri

        set_fluent_uri(self.store.uri)
        # The finished run is not reopened: the model is linked to it explicitly, so it stays
        # FINISHED (and no reaper can take it for a dead process's run) throughout.
        uri = log_pyfunc_model(
            model,
            splits.scaler_mean,
            splits.scaler_std,
            example=splits.train.X[:5],
            run_id=run_id,
            feature_names=dataset.feature_names,
            class_names=dataset.class_names,
        )
        tags = model_tags(uri, run_id) | {"best_trial": "true"}
        self.client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])
        return uri


def command_text(overrides: list[str]) -> str:
    from nnexp.cmdline import command_line

    return command_line(overrides if overrides else sys.argv[1:])
