"""What makes two launches the same study, its default name, and the storage as MLflow tags it.

- **Identity** (:func:`study_identity`): the trials' base overrides, their composed base config
  (so that an experiment or config file edited between two launches is seen), the search
  space, the metrics and directions. A resume must match it (:func:`identity_mismatch`);
  ``n_trials`` (a total that may be raised to resume), ``timeout``, ``workers``, the sampler,
  the pruner, logging and tracking settings are not part of it.
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
#: Composed config nodes outside the identity besides :data:`NOT_IDENTITY`: the sweep's own
#: settings (its space and metrics are compared apart; ``n_trials`` may be raised to resume)
#: and where the workers run.
CONFIG_NOT_IDENTITY = ("sweep", "launcher")


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


def default_study_name(sweep_name: str, overrides: list[str], config_name: str = "config") -> str:
    """``sweep_name``, or ``sweep_name-<digest>`` when the command line shapes the study
    (its overrides, or a primary config other than nnexp's: ``--config-name``)."""
    kept = identity_overrides(overrides)
    if config_name != "config":
        kept.append(f"--config-name={config_name}")
    if not kept:
        return sweep_name
    digest = hashlib.sha256("\n".join(kept).encode()).hexdigest()[:DIGEST_LENGTH]
    return f"{sweep_name}-{digest}"


def study_identity(
    spec: Any, base: list[str], base_cfg: Any = None, swept: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What makes two sweeps the same study (stored on it; a resume must match).

    ``base_cfg`` is the trials' composed base config; ``swept`` the keys the sampler sets.
    """
    kept = [line for line in base if not _within(override_key(line), NOT_IDENTITY)]
    identity: dict[str, Any] = {
        "overrides": kept,
        "space": {k: asdict(v) for k, v in spec.space.items()},
        "metrics": spec.objective_metrics,
        "directions": spec.objective_directions,
    }
    if base_cfg is not None:
        identity["config"] = composed_identity(base_cfg, swept)
    return json.loads(json.dumps(identity, default=str))


def composed_identity(cfg: Any, swept: tuple[str, ...] = ()) -> dict[str, Any]:
    """The composed base config as ``{dotted key: value}``, without what the sampler sets
    (``swept`` keys and what is under them: a swept group's whole node) and what never changes a
    trial's result (:data:`NOT_IDENTITY`, the ``sweep`` settings such as ``n_trials``, the
    ``launcher``). The overrides alone missed a config file edited between two launches: the
    same command then resumed the study on other data."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True)
    flat: dict[str, Any] = {}
    _flatten(container, "", flat)
    skipped = (*NOT_IDENTITY, *CONFIG_NOT_IDENTITY, *swept)
    return {key: value for key, value in sorted(flat.items()) if not _within(key, skipped)}


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _flatten(value, f"{prefix}{key}.", out)
    else:
        out[prefix[:-1]] = node


def identity_mismatch(stored: dict[str, Any], identity: dict[str, Any]) -> str | None:
    """Why a study whose stored identity is ``stored`` is not the sweep ``identity``: a phrase
    that follows "was started with" (None if it is the same sweep). A study stored before its
    identity had a part (``config``) is compared on the parts it has."""
    keys = [k for k in identity if k in stored and identity[k] != stored[k]]
    if not keys:
        return None
    what = " and ".join(IDENTITY_WORDS.get(k, k) for k in keys)
    was = "; ".join(
        f"{IDENTITY_WORDS.get(k, k)}: "
        + (_config_changes(stored[k], identity[k]) if k == "config" else _plain(stored[k]))
        for k in keys
    )
    return f"other {what} (it has {was})"


def _config_changes(stored: dict[str, Any], now: dict[str, Any], shown: int = 3) -> str:
    """``data.name=circles (now spirals), ...``: the first differing keys, stored values."""
    keys = sorted(set(stored) | set(now))
    changed = [k for k in keys if stored.get(k, _ABSENT) != now.get(k, _ABSENT)]
    parts = [
        f"{key}={_value(stored.get(key, _ABSENT))} (now {_value(now.get(key, _ABSENT))})"
        for key in changed[:shown]
    ]
    more = len(changed) - shown
    return ", ".join(parts) + (f" and {more} more key{'s' if more > 1 else ''}" if more > 0 else "")


_ABSENT = object()


def _value(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    return json.dumps(value, separators=(",", ":"), default=str).strip('"')


IDENTITY_WORDS = {
    "overrides": "base overrides",
    "space": "search space",
    "metrics": "metrics",
    "directions": "directions",
    "config": "composed config",
}


def _plain(value: Any) -> str:
    """A stored identity value in a line: overrides space-separated, the rest as JSON."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value) if value else "none"
    return json.dumps(value, separators=(",", ":"), default=str)


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
