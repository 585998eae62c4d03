"""Read a running study's progress from outside it (the Slurm launcher's follower).

The follower only reads: it never creates the Optuna tables or the study (the workers do, under
the sweep lock), so until the first worker has created them it sees no study yet. One look is
a read of the study's trials through Optuna's study cache (finished trials are read once, later
looks fetch only the unfinished and new ones; a journal is replayed from where it stopped), which
keeps following cheap: the floor is under 1% of one core at a look every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class StudyProgress:
    """One look at the study: trials counted towards the total, and the best so far."""

    done: int = 0  # finished trials (complete, pruned, failed) that count towards n_trials
    running: int = 0
    best_value: float | None = None
    best_number: int | None = None
    exists: bool = False


class StudyWatcher:
    """Looks at the study ``name`` in ``storage`` (an URL or the journal file's path)."""

    def __init__(self, storage: str, name: str, minimize: bool):
        self.storage_text, self.name, self.minimize = storage, name, minimize
        self._storage: Any = None
        self._study: Any = None
        self._last = StudyProgress()

    def look(self) -> StudyProgress:
        from optuna.trial import TrialState

        from nnexp.sweep.storage import counted_trials

        if not self._connect():
            return self._last
        try:
            trials = self._study.get_trials(deepcopy=False)
        except Exception:  # the database is briefly unreachable: say what was seen last
            self.close()
            return self._last
        counted = counted_trials(trials)
        progress = StudyProgress(exists=True)
        progress.running = sum(t.state == TrialState.RUNNING for t in trials)
        progress.done = sum(t.state.is_finished() for t in counted)
        for trial in counted:
            if trial.state != TrialState.COMPLETE or trial.values is None or len(trial.values) != 1:
                continue
            value = trial.values[0]
            if progress.best_value is None or (
                value < progress.best_value if self.minimize else value > progress.best_value
            ):
                progress.best_value, progress.best_number = value, trial.number
        self._last = progress
        return progress

    def _connect(self) -> bool:
        if self._study is not None:
            return True
        import optuna

        from nnexp.sweep.storage import _engine_kwargs, is_rdb

        try:
            if self._storage is None:
                if is_rdb(self.storage_text):
                    self._storage = optuna.storages.RDBStorage(
                        self.storage_text,
                        skip_table_creation=True,
                        engine_kwargs=_engine_kwargs(self.storage_text),
                    )
                else:
                    from optuna.storages.journal import JournalFileBackend, JournalStorage

                    self._storage = JournalStorage(JournalFileBackend(self.storage_text))
            self._study = optuna.load_study(study_name=self.name, storage=self._storage)
        except Exception:  # not created yet by the first worker (tables or study missing)
            self.close()
            return False
        return True

    def close(self) -> None:
        engine = getattr(self._storage, "engine", None)
        if engine is not None:
            engine.dispose()
        self._storage, self._study = None, None
