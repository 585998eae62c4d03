"""Refuse command-line words that Hydra would misreport, before Hydra composes anything.

Run by :mod:`nnexp.cli` on the words Hydra's own parser read, so before any config is composed,
any multirun parent run or sweep folder exists. Each check looks at the words only:

* a ``-m`` sweep Hydra's basic sweeper cannot expand: ``interval(...)`` (a range of reals, which
  only a search, ``+sweep=NAME``, can sample) failed only after the multirun's parent run
  existed, and an empty ``range(3,1)`` was reported as "requires --multirun" although ``-m``
  was given;
* ``~KEY`` for a key the schema declares (``~seed``): reported as an unknown key;
* ``--resolve`` without ``--cfg``/``--help`` (Hydra's ValueError), ``-p/--package`` without
  ``--cfg`` (Hydra ignored it and trained a run).

:func:`composition_hint` rewrites the errors Hydra raises while composing that do not say what
to type instead (``sweep.n_trials=3`` without a sweep; ``sweep=lr`` without ``+``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnexp.errors import ConfigError

#: The sweeps ``-m`` can expand (Hydra's basic sweeper), as said in the errors.
MULTIRUN_SWEEPS = "a,b,c, range(start,stop[,step]), choice(a,b), glob(pattern)"


def check_flags(parsed: Any) -> None:
    """Hydra's flags that take effect only with another one (``parsed``: Hydra's argparse
    namespace)."""
    if parsed.resolve and parsed.cfg is None and not parsed.help:
        raise ConfigError(
            "--resolve needs --cfg (job, hydra or all) or --help: it resolves the interpolations "
            "of the config they print (e.g. python -m nnexp --cfg job --resolve)"
        )
    if parsed.package is not None and parsed.cfg is None and not parsed.help:
        raise ConfigError(
            f"-p/--package {parsed.package} needs --cfg: it selects the part of the config "
            f"--cfg prints (e.g. python -m nnexp --cfg job -p {parsed.package})"
        )


def check_overrides(words: Sequence[str], multirun: bool) -> None:
    """Raise :class:`ConfigError` (one line) on the first override refused here; words Hydra
    cannot parse are left to Hydra, which names them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        overrides = OverridesParser.create().parse_overrides(list(words))
    except Exception:
        return
    basic_sweeper = not any(o.key_or_group == "hydra/sweeper" for o in overrides)
    for override in overrides:
        if override.is_delete():
            check_delete(override.input_line, override.key_or_group)
        if multirun and basic_sweeper and override.is_sweep_override():
            check_multirun_sweep(override)


def check_multirun_sweep(override: Any) -> None:
    """An ``interval(...)`` or an empty ``range(...)`` in a ``-m`` multirun (``override``: one
    of Hydra's parsed overrides)."""
    if not override.is_discrete_sweep():
        raise ConfigError(
            f"{override.input_line}: -m cannot sweep interval(): Hydra's multirun runs a list of "
            "values and an interval has infinitely many; sample it in a sweep instead (+sweep=NAME "
            "with a space, e.g. +sweep=lr), or give -m a range(start,stop[,step]), a choice(a,b) "
            "or a glob(pattern)"
        )
    if override.value_type.name == "RANGE_SWEEP" and not list(override.sweep_string_iterator()):
        raise ConfigError(
            f"{override.input_line} is empty: range(start,stop[,step]) counts from start up to "
            "stop, stop excluded, so start must be below stop for a positive step (e.g. "
            "range(1,4) gives 1,2,3; range(3,0,-1) gives 3,2,1)"
        )


def check_delete(word: str, key: str) -> None:
    """``~seed``: a key the schema declares outside a config group cannot be removed."""
    from nnexp.config.compose import _valid_keys

    parent, _, leaf = key.rpartition(".")
    if "/" in key or "@" in key or (not parent and key in config_groups()):
        return
    if leaf in _valid_keys(parent):
        raise ConfigError(
            f"{word}: '{key}' cannot be deleted: the schema requires it; set a value instead "
            f"({key}=VALUE)"
        )


def config_groups() -> list[str]:
    """nnexp's config groups: the folders of ``conf/`` and ``experiment``."""
    from nnexp.config.store import CONF_DIR

    return sorted([p.name for p in Path(CONF_DIR).iterdir() if p.is_dir()] + ["experiment"])


def shipped_sweeps() -> list[str]:
    """The sweeps ``+sweep=NAME`` selects from ``conf/sweep/``."""
    from nnexp.config.store import CONF_DIR

    return sorted(path.stem for path in (Path(CONF_DIR) / "sweep").glob("*.yaml"))


def composition_hint(exc: BaseException, words: Sequence[str]) -> str | None:
    """One line for a composition error Hydra words unhelpfully, else None (``words``: the
    command line's overrides)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, AssertionError) and message.startswith("Unexpected type"):
        # OmegaConf.update on a null node: ``sweep`` is null until ``+sweep=NAME`` fills it
        sweep_words = [w for w in words if w.lstrip("+~").startswith("sweep.")]
        if sweep_words and not _selects_sweep(words):
            return (
                f"{sweep_words[0]}: sweep.* settings need a sweep: select one with +sweep=NAME "
                f"(shipped: {', '.join(shipped_sweeps())})"
            )
    marker = "Could not override '"
    if message.startswith(marker) and "No match in the defaults list" in message:
        group = message[len(marker) :].split("'", 1)[0]
        word = next((w for w in words if w.split("=", 1)[0] == group), f"{group}=NAME")
        if group in config_groups():
            return (
                f"{word}: cannot override '{group}': it is not in the defaults list of "
                f"conf/config.yaml; add it with a '+': use +{word}"
            )
    return None


def _selects_sweep(words: Sequence[str]) -> bool:
    return any(w.lstrip("+").split("=", 1)[0] == "sweep" for w in words)
