"""Names of the user attributes nnexp writes on Optuna studies and trials.

Kept apart so that the modules that read and write them (:mod:`nnexp.sweep.storage`,
:mod:`nnexp.sweep.orphans`, :mod:`nnexp.sweep.objective`) need not import each other.
"""

# -- on the study --------------------------------------------------------------------------------
#: What defines the sweep (base overrides, space, metrics, directions): a resume must match it.
IDENTITY_ATTR = "nnexp.identity"
#: How many launches opened the study (the sampler's seed differs per launch).
LAUNCHES_ATTR = "nnexp.launches"
#: The study's total when its report was last written (a finished sweep is not re-run).
FINISHED_ATTR = "nnexp.finished_at_total"

# -- on a trial ----------------------------------------------------------------------------------
#: An orphan or interrupted trial whose parameters were enqueued again (it no longer counts).
REPLACED_ATTR = "nnexp.replaced_by_retry"
#: A retry keeps the seed of this trial number.
RETRY_OF_ATTR = "nnexp.retry_of"
#: The retry of an orphan (re-queued only once: a trial that keeps killing its worker).
ORPHAN_RETRY_ATTR = "nnexp.orphan_retry"
#: Who runs the trial: host, pid, the pid's start time, a lease time.
WORKER_ATTR = "nnexp.worker"
#: The trial's MLflow run id, so that optuna-dashboard users can find the run.
RUN_ID_ATTR = "mlflow_run_id"
