"""What makes two launches the same study, its default name, and the storage as MLflow tags it.

- **Identity** (:func:`study_identity`): the trials' base overrides, the search space, the
  metrics and directions. A resume must match it; ``n_trials`` (a total that may be raised to
  resume), ``timeout``, ``workers``, the sampler, the pruner, logging and tracking settings are
  not part of it.
- **Default name** (:func:`default_study_name`): the sweep's ``name`` when the command line
  changes nothing that defines the study (``+sweep=lr``, ``+sweep=lr sweep.n_trials=50``), else
  the name and 8 hex digits of a digest of those overrides, sorted
  (``+sweep=lr optimizer=sgd`` -> ``lr-1b2c3d4e``). So each distinct command is its own study,
  and the same command (in any order) resumes it. ``sweep.study_name=NAME`` chooses the name.
- **Storage key** (:func:`storage_key`): how the MLflow parent run records which storage holds
  its study, such that moving the project folder keeps it: the default journal by its path
  inside the store folder (``journal:optuna/lr.journal``), a SQLite file under the working
  directory by its relative path, any other URL redacted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nnexp.redact import redact
from nnexp.sweep.overrides import merge_overrides, override_key

#: Config keys whose overrides never change what a trial computes.
NOT_IDENTITY = ("tracking", "hydra", "trainer.progress")
#: Sweep settings that are part of the identity (the rest are how the study is run).
SWEEP_IDENTITY = (
    "sweep.space",
    "sweep.metric",
    "sweep.metrics",
    "sweep.direction",
    "sweep.directions",
    "sweep.base_overrides",
)
DIGEST_LENGTH = 8


def _within(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def identity_overrides(overrides: list[str]) -> list[str]:
    """The command-line overrides that define the study, last one per key, sorted."""
    kept = []
    for line in merge_overrides(overrides):
        key = override_key(line)
        if key == "sweep" or _within(key, NOT_IDENTITY):
            continue
        if key.startswith("sweep.") and not _within(key, SWEEP_IDENTITY):
            continue
        kept.append(line.strip())
    return sorted(kept)


def default_study_name(sweep_name: str, overrides: list[str]) -> str:
    """``sweep_name``, or ``sweep_name-<digest>`` when the command line shapes the study."""
    kept = identity_overrides(overrides)
    if not kept:
        return sweep_name
    digest = hashlib.sha256("\n".join(kept).encode()).hexdigest()[:DIGEST_LENGTH]
    return f"{sweep_name}-{digest}"


def study_identity(spec: Any, base: list[str]) -> dict[str, Any]:
    """What makes two sweeps the same study (stored on it; a resume must match)."""
    kept = [line for line in base if not _within(override_key(line), NOT_IDENTITY)]
    identity = {
        "overrides": kept,
        "space": {k: asdict(v) for k, v in spec.space.items()},
        "metrics": spec.objective_metrics,
        "directions": spec.objective_directions,
    }
    return json.loads(json.dumps(identity, default=str))


def storage_key(storage: str, configured: str | None, journal_root: Path | None) -> str:
    """The storage as the MLflow parent records it (tag ``nnexp.storage``); survives a move.

    ``storage`` is the journal path (default storage) or the URL given as ``sweep.storage``
    (``configured``); ``journal_root`` the store folder the default journal lives under.
    """
    if not configured:
        path = Path(storage)
        if journal_root is not None:
            try:
                return "journal:" + path.relative_to(journal_root).as_posix()
            except ValueError:
                pass
        return "journal:" + path.name
    if configured.lower().startswith("sqlite:///"):
        path = Path(configured.split(":///", 1)[1])
        if path.is_absolute():
            try:
                return "sqlite:///" + path.relative_to(Path.cwd()).as_posix()
            except ValueError:
                pass
    return redact(configured)
