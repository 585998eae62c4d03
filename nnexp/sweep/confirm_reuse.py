"""Runs that an earlier confirm phase of the same sweep made are reused, not run again.

Each confirm phase of a sweep is its own Optuna study (``<study>.confirm-top<K>x<S>``), but the
phases overlap: the seeds of ``--seeds 3`` begin with those of ``--seeds 2``, and the top 2
configurations begin with the top 1. A configuration's run with a given seed is the same run
whichever phase asks for it (same overrides, same seed: bit-identical metrics), so running it
again only adds a copy under the sweep's parent, which every statistic over the parent's
children (``runs --group-by``, ``compare``) would then count twice, narrowing the interval with
copies.

So when a phase decides its jobs (:func:`nnexp.sweep.confirm._decided`), each job that an earlier
phase of the same search study *finished* (a run that recorded its metrics, whether it converged
or diverged) enters the new study as a finished trial with that job's result and run id, and is
resumed from like the phase's own finished jobs: only what is missing is queued. A job that
crashed or was killed in the earlier phase has no result and is run again.
"""

from __future__ import annotations

import re
from typing import Any

from nnexp.sweep.attrs import REPLACED_ATTR, WORKER_ATTR
from nnexp.sweep.confirm import JOB_ATTR, PLAN_ATTR, RESULT_ATTR, ConfirmJob

#: On a reused trial: ``<earlier confirm study> trial <number>``, where its run was made.
REUSED_ATTR = "nnexp.confirm.reused_from"

#: ``(search trial number, None for the base config; seed)``: a configuration's run with a seed.
JobKey = tuple[int | None, int]


def earlier_results(storage: Any, study_name: str, current: str, metric: str) -> dict[JobKey, Any]:
    """The finished jobs of the search study ``study_name``'s other confirm phases.

    ``{(trial, seed): (confirm study name, frozen trial)}``; where several phases ran the same
    job (stores written before reuse existed), the earliest phase's run, lowest trial first.
    Phases of another metric are skipped (their result lacks this one's values).
    """
    pattern = re.compile(re.escape(study_name) + r"\.confirm-top\d+x\d+")
    found: dict[JobKey, Any] = {}
    for study in storage.get_all_studies():  # sorted by study id: the earliest phase first
        decided = study.user_attrs.get(PLAN_ATTR)
        if study.study_name == current or not pattern.fullmatch(study.study_name):
            continue
        if not decided or decided.get("metric") != metric:
            continue
        for trial in storage.get_all_trials(study._study_id, deepcopy=False):
            job = trial.user_attrs.get(JOB_ATTR)
            if not trial.state.is_finished() or job is None or trial.user_attrs.get(REPLACED_ATTR):
                continue
            if metric not in trial.user_attrs.get(RESULT_ATTR, {}):
                continue  # crashed or killed: no run to reuse
            config = decided["configs"][int(job["config"])]
            found.setdefault((config["trial"], int(job["seed"])), (study.study_name, trial))
    return found


def add_reused(confirm: Any, job: ConfirmJob, earlier: tuple[str, Any]) -> None:
    """Add ``job`` to the confirm study as finished with the earlier phase's result and run."""
    import optuna

    name, trial = earlier
    attrs = {k: v for k, v in trial.user_attrs.items() if k not in (JOB_ATTR, WORKER_ATTR)}
    attrs[JOB_ATTR] = job.attrs()
    attrs[REUSED_ATTR] = f"{name} trial {trial.number}"
    confirm.add_trial(
        optuna.trial.create_trial(state=trial.state, values=trial.values, user_attrs=attrs)
    )
