"""A trial is a list of Hydra overrides; this module builds it and composes it quickly.

The list is ``base_overrides`` (from the sweep file) + the user's command-line overrides (minus
``+sweep=...``, ``sweep.*`` and ``launcher.*``) + the sampled ``key=value`` + ``seed=<trial seed>``; when two
set the same key the later one wins and the earlier one is dropped, so the line stays short and
pasting it after ``python -m nnexp`` gives exactly the trial's config (quoted for the shell by
:mod:`nnexp.cmdline`).

Trial seed: ``base_seed * SEED_STRIDE + trial_number`` (the base seed is the composed ``seed``
before the sweep), so a trial's seed does not depend on which worker ran it, and a re-queued
orphan keeps the seed of the trial it replaces. The seed also drives the data split, so trials
differ in their split too; ``sweep.vary_seed=false`` gives every trial the base seed.

Composing with Hydra costs about 80 ms (a fresh Compose API context each time). A sweep composes
the *structure* (defaults list: group choices, ``+``/``~`` overrides) once per distinct set of
group choices, then applies plain ``key=value`` overrides exactly the way Hydra does
(``OmegaConf.update(cfg, key, value, merge=True)`` with Hydra's own override parser), which
takes about 2 ms; ``tests/sweep`` checks the result equals :func:`compose_config`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from nnexp.errors import ConfigError

SEED_STRIDE = 10_000
SWEEP_KEY = "sweep"
#: where a sweep's workers run (``launcher.partition=gpu``): never part of what a trial computes
LAUNCHER_KEY = "launcher"


def override_key(line: str) -> str:
    """The key (or group) an override sets: ``+model.dropout=0.1`` -> ``model.dropout``."""
    head = line.split("=", 1)[0].strip()
    return head.lstrip("~+").split("@", 1)[0]


def is_sweep_override(line: str) -> bool:
    key = override_key(line)
    return any(key == name or key.startswith(name + ".") for name in (SWEEP_KEY, LAUNCHER_KEY))


def user_overrides(overrides: Iterable[str]) -> list[str]:
    """The command-line overrides that shape every trial (sweep settings removed)."""
    return [line for line in overrides if not is_sweep_override(line)]


def merge_overrides(*groups: Iterable[str]) -> list[str]:
    """Concatenate override lists; a later override of the same key replaces the earlier one."""
    merged: dict[str, str] = {}
    for group in groups:
        for line in group:
            key = override_key(line)
            merged.pop(key, None)
            merged[key] = line
    return list(merged.values())


def trial_seed(base_seed: int, number: int) -> int:
    return int(base_seed) * SEED_STRIDE + int(number)


class TrialComposer:
    """Compose trial configs; the structural part of the overrides is composed once and cached."""

    def __init__(self, groups: set[str]):
        self.groups = groups
        self._cache: dict[tuple[str, ...], Any] = {}
        self._parser: Any = None
        self._parsed: dict[str, Any] = {}

    def compose(self, overrides: Sequence[str], *, validate: bool = True) -> Any:
        """The validated config for ``overrides``; bad input raises :class:`ConfigError`."""
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        parsed = self._parse(overrides)
        structure = tuple(o.input_line for o in parsed if self._structural(o))
        values = [o for o in parsed if not self._structural(o)]
        base = self._cache.get(structure)
        if base is None:
            from nnexp.config.compose import compose_config

            base = compose_config(list(structure), validate=False)
            self._cache[structure] = base
        cfg = copy.deepcopy(base)
        for override in values:
            try:
                OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
            except OmegaConfBaseException as exc:
                raise ConfigError(_describe(override.input_line, exc)) from None
        if validate:
            from nnexp.config.validate import validate_config

            validate_config(cfg, overrides)
        return cfg

    def _parse(self, overrides: Sequence[str]) -> list[Any]:
        """Hydra's parse of each line (cached: a sweep repeats the same base lines)."""
        from hydra.core.override_parser.overrides_parser import OverridesParser

        if self._parser is None:
            self._parser = OverridesParser.create()
        parsed = []
        for line in overrides:
            override = self._parsed.get(line)
            if override is None:
                try:
                    override = self._parser.parse_overrides([line])[0]
                except Exception as exc:  # Hydra's grammar errors
                    raise ConfigError(str(exc).strip().splitlines()[0]) from None
                if len(self._parsed) < 10_000:
                    self._parsed[line] = override
            parsed.append(override)
        return parsed

    def _structural(self, override: Any) -> bool:
        """True for what Hydra handles in the defaults list (or we do not replicate)."""
        from hydra.core.override_parser.types import OverrideType

        key = override.key_or_group
        return (
            override.type != OverrideType.CHANGE
            or override.package is not None
            or key in self.groups
            or ("." not in key and key not in ("seed",))
            or key.startswith("hydra.")
            or override.is_sweep_override()
        )


def _describe(line: str, exc: BaseException) -> str:
    message = getattr(exc, "msg", None) or str(exc)
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    if "not in" in first or "Key '" in first:
        return f"unknown config key in override '{line}': {first}"
    return f"{line}: {first}"
