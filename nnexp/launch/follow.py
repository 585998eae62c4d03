"""Follow a sweep on Slurm: the study's progress and the worker jobs, until every job ends.

Every ``launcher.poll_interval`` seconds: one ``squeue`` of the job array and one read of the
study's trials (:class:`nnexp.sweep.watch.StudyWatcher`); a line is printed when something
changed (``sweep lr: 12/30 trials done, best 0.1234 (trial 7) | jobs: 0 pending, 3 running,
0 ended``). Between looks the process sleeps, so following costs well under 1% of one core.
A task that left the queue has ended; its exit file (or its output) says how
(:func:`nnexp.launch.sbatch.task_outcome`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from nnexp.launch.sbatch import JobArray, queue_states, task_outcome

#: seconds to wait for the exit files of ended tasks (a shared filesystem may show them late)
EXIT_FILE_GRACE = 10.0


@dataclass
class FollowResult:
    """How the tasks ended: ``{index: (exit code or None, description)}``, and the study."""

    outcomes: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    progress: Any = None

    @property
    def failed(self) -> dict[int, str]:
        return {i: text for i, (code, text) in self.outcomes.items() if code != 0}


def follow(
    job: JobArray, watcher: Any, total: int | None, study: str, poll_interval: float
) -> FollowResult:
    """Print progress lines until no task of ``job`` is queued or running any more."""
    from nnexp.signals import raise_if_stop_requested

    last_line, ended = None, False
    progress = None
    while not ended:
        states = queue_states(job)
        progress = watcher.look()
        if states is not None:
            ended = not states
            line = progress_line(study, progress, total, states, job.count)
            if line != last_line:
                print(line, flush=True)
                last_line = line
        if ended:
            break
        end = time.monotonic() + poll_interval
        while time.monotonic() < end:  # honour Ctrl-C within a second
            raise_if_stop_requested()
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        raise_if_stop_requested()
    result = FollowResult(progress=watcher.look())
    deadline = time.monotonic() + EXIT_FILE_GRACE
    for index in range(job.count):
        outcome = task_outcome(job, index)
        while outcome[0] is None and time.monotonic() < deadline and "killed?" in outcome[1]:
            time.sleep(0.5)  # not written yet, or never: a killed task
            outcome = task_outcome(job, index)
        result.outcomes[index] = outcome
    return result


def progress_line(
    study: str, progress: Any, total: int | None, states: dict[int, str], count: int
) -> str:
    pending = sum(state in ("PENDING", "CONFIGURING") for state in states.values())
    running = len(states) - pending
    jobs = f"jobs: {pending} pending, {running} running, {count - len(states)} ended"
    if not progress.exists:
        return f"sweep {study}: waiting for the first worker to open the study | {jobs}"
    of = f"/{total}" if total is not None else ""
    best = ""
    if progress.best_value is not None:
        best = f", best {progress.best_value:.6g} (trial {progress.best_number})"
    return f"sweep {study}: {progress.done}{of} trials done{best} | {jobs}"


def say(message: str) -> None:
    print(f"nnexp: {message}", file=sys.stderr, flush=True)
