"""What the subcommands share: argument parsing, the store, short ids, params that differ."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from nnexp.errors import NnexpError

SHORT_ID = 8
MISSING = "-"

#: Params that say where and how a run was recorded, not what was trained: hidden from diffs.
BOOKKEEPING_PARAMS = ("tracking.", "trainer.progress")
BOOKKEEPING_LABEL = "tracking.*, trainer.progress"


def default_tracking_uri() -> str:
    """The store a run records in by default: ``$MLFLOW_TRACKING_URI``, else the project's
    ``sqlite:///<project>/mlruns/mlflow.db`` (see :mod:`nnexp.project`)."""
    from nnexp.project import tracking_uri

    return tracking_uri(None).value


class CommandParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``nnexp: error:`` line (exit 2) like every nnexp error."""

    def error(self, message: str) -> NoReturn:
        raise NnexpError(f"{self.prog}: {message} (see {self.prog} --help)")


def make_parser(name: str, description: str) -> CommandParser:
    parser = CommandParser(
        prog=f"python -m nnexp {name}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="the MLflow store (default: $MLFLOW_TRACKING_URI, else the project's "
        "sqlite:///<project>/mlruns/mlflow.db, as for a run)",
    )
    return parser


def open_reader(uri: str | None) -> Any:
    """A :class:`nnexp.tracking.reader.StoreReader` for ``uri`` (default store if None)."""
    from nnexp.tracking.reader import StoreReader

    return StoreReader(uri)


def short_id(run_id: str) -> str:
    return run_id[:SHORT_ID]


def differing_params(runs: Sequence[Any]) -> list[str]:
    """The param keys whose value is not the same in every run (bookkeeping keys left out)."""
    keys = sorted({key for run in runs for key in run.params})
    differing = []
    for key in keys:
        if key.startswith(BOOKKEEPING_PARAMS):
            continue
        if len({run.params.get(key, MISSING) for run in runs}) > 1:
            differing.append(key)
    return differing


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix that tells each key apart: ``optimizer.lr`` -> ``lr``."""
    names = {}
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            clashes = [k for k in keys if k != key and (k == suffix or k.endswith("." + suffix))]
            if not clashes:
                break
        names[key] = suffix
    return names


def format_number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4g}"


def format_param(text: str, width: int) -> str:
    """A param value for a table cell: floats to 4 significant digits, long text cut."""
    if not text.lstrip("-").isdigit():
        try:
            return format_number(float(text))
        except ValueError:
            pass
    return truncate(text, width)


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def truncate_middle(text: str, width: int) -> str:
    """Cut the middle, keep both ends: names differ at their ends (``..._rate_1``)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def warn(message: str) -> None:
    print(f"nnexp: warning: {message}", file=sys.stderr, flush=True)
