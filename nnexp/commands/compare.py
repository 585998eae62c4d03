"""``python -m nnexp compare RUN_ID RUN_ID ...``: overlaid learning curves and the params that differ.

Writes one PNG (default ``mlruns/compare-<short ids>.png``, see :mod:`.curves`) and with
``--boundaries`` a second one of the runs' decision boundaries (:mod:`.boundaries`), prints
the paths, then a table with one column per run: the params that differ between the runs, followed
by their final and best losses and diagnoses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnexp.commands.common import (
    MISSING,
    differing_params,
    format_number,
    format_param,
    make_parser,
    open_reader,
    short_id,
    truncate,
)
from nnexp.commands.curves import Curves, plot_runs
from nnexp.commands.table import Column, render
from nnexp.errors import NnexpError

CURVE_METRICS = ("loss", "accuracy", "r2")
SUMMARY_METRICS = ("final_train_loss", "final_val_loss", "best_val_loss")
CELL_WIDTH = 16
LABEL_WIDTH = 40
MAX_IDS_IN_NAME = 4
GROUP_KINDS = ("sweep", "multirun")


def build_parser() -> Any:
    parser = make_parser(
        "compare",
        "Overlaid learning curves of runs (train dashed, validation solid) as a PNG,\n"
        "and the params that differ between them. A sweep or multirun parent id stands for\n"
        "its group of runs: their mean curve with a 95% interval band (a multirun's jobs, a\n"
        "sweep's confirmed winner over its seeds, else its completed trials).",
    )
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids (or unique prefixes)")
    parser.add_argument(
        "--output",
        metavar="PATH",
        help="the PNG to write (default: mlruns/compare-<short ids>.png)",
    )
    parser.add_argument(
        "--boundaries",
        action="store_true",
        help="also draw the compared runs' decision boundaries side by side (classification "
        "on two features; a parent's: those of its group's runs) into <output>-boundaries.png",
    )
    return parser


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
    if opts.output:
        check_output(Path(opts.output))
    reader = open_reader(opts.tracking_uri)
    runs = []
    for run_id in opts.run_ids:
        run = reader.get_run(run_id)
        if run.run_id in {r.run_id for r in runs}:
            raise NnexpError(f"compare: run {run.run_id} is given twice")
        runs.append(run)
    curves, compared = [], []  # compared: the training runs behind each column
    for index, run in enumerate(runs):
        if run.kind in GROUP_KINDS:
            runs[index], group, members = read_group(reader, run)
            curves.append(group)
            compared += [(member, run) for member in members]
        else:
            curves.append(read_curves(reader, run))
            compared.append((run, None))
    # rebuilt before any file is written: a record that cannot be rebuilt writes nothing
    boundaries = collect_boundaries(reader, compared) if opts.boundaries else None
    path = Path(opts.output) if opts.output else default_output(runs)
    title = f"Learning curves of {len(runs)} run{'s' if len(runs) > 1 else ''}"
    plot_runs(curves, path, title)
    print(f"learning curves: {path}")
    if boundaries is not None:
        draw_boundaries(boundaries, path)
    for line in summary_lines(runs):
        print(line)
    print(f"store: {reader.described_uri}", flush=True)
    return 0


def check_output(path: Path) -> None:
    """Refuse an ``--output`` that cannot be written before any run is read (its folder is
    created here, as the picture would create it)."""
    why = "it is a folder; name a .png file" if path.is_dir() else None
    if why is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = f"cannot create its folder {path.parent} ({exc.strerror or exc})"
    if why is None and not os.access(path.parent, os.W_OK):
        why = f"its folder {path.parent} is not writable"
    if why is not None:
        raise NnexpError(f"compare: cannot write --output {path}: {why}")


def collect_boundaries(reader: Any, compared: list[tuple[Any, Any]]) -> tuple[list, list[str]]:
    """The decision-boundary panels of the training runs compared: each run given, and the
    members of each sweep or multirun parent given (its jobs, confirm runs or trials, as its
    mean curve), titled with their parent's short id."""
    from nnexp.records.boundaries import boundary_panels

    titles = [
        truncate(
            f"{run.name} ({short_id(run.run_id)}"
            + (f" of {short_id(parent.run_id)})" if parent is not None else ")"),
            LABEL_WIDTH,
        )
        for run, parent in compared
    ]
    return boundary_panels(reader, [run for run, _ in compared], titles)


def draw_boundaries(boundaries: tuple[list, list[str]], curves_path: Path) -> None:
    """The runs' decision boundaries next to the learning curves' PNG (see --boundaries)."""
    from nnexp.records.boundaries import draw_panels

    panels, skipped = boundaries
    path = curves_path.with_name(f"{curves_path.stem}-boundaries.png")
    drawn = draw_panels(panels, path, f"Decision boundaries of {len(panels)} runs")
    for line in skipped:
        print(f"no decision boundary for {line}")
    if drawn is not None:
        print(f"decision boundaries: {drawn}")


def read_curves(reader: Any, run: Any) -> Curves:
    """The run's per-epoch train/val histories (the last value where a step was logged twice)."""
    curves = Curves(truncate(f"{run.name} ({short_id(run.run_id)})", LABEL_WIDTH))
    for metric in CURVE_METRICS:
        for part in ("train", "val"):
            key = f"{part}_{metric}"
            if key in run.metrics:
                points = dict(reader.metric_history(run.run_id, key))
                curves.series[key] = sorted((s, v) for s, v in points.items() if s > 0)
    if not curves.series.get("train_loss") and not curves.series.get("val_loss"):
        diagnosis = run.tags.get("diagnosis")
        why = f" (diagnosis: {diagnosis})" if diagnosis else ""
        raise NoCurves(
            f"compare: run {run.run_id} ({run.kind}) recorded no per-epoch losses{why}: "
            "there is no curve to draw"
        )
    return curves


class NoCurves(NnexpError):
    """A training run without a single per-epoch loss (it diverged or failed before epoch 1)."""


def read_group(reader: Any, parent: Any) -> tuple[Any, Curves, list[Any]]:
    """A parent as one column (params common to its group, mean metrics), its mean curves and
    the runs of its group."""
    from types import SimpleNamespace

    from nnexp.commands.groups import group_members, mean_band, runs_per_epoch_note
    from nnexp.stats import summarize

    members, what = group_members(reader, parent)
    if not members:
        raise NnexpError(f"compare: {parent.kind} {parent.run_id} has no finished runs to group")
    member_curves, without = [], []
    for run in members:
        try:
            member_curves.append(read_curves(reader, run))
        except NoCurves:
            without.append(run)
    if without:
        # a seed diverged before its first epoch: its curve is nothing to average; say so
        left_out = ", ".join(
            f"{short_id(run.run_id)} ({run.tags.get('diagnosis', MISSING)})" for run in without
        )
        print(
            f"compare: {parent.kind} {short_id(parent.run_id)}: {len(without)} of "
            f"{len(members)} {what} recorded no per-epoch losses, left out of its mean curve: "
            f"{left_out}"
        )
    if not member_curves:
        raise NnexpError(
            f"compare: no run of {parent.kind} {parent.run_id} ({what}) recorded per-epoch "
            "losses: there is no curve to draw"
        )
    label = truncate(f"{parent.name} ({short_id(parent.run_id)})", LABEL_WIDTH - 12)
    curves = Curves(f"{label} mean of {len(member_curves)}")
    for key in {k for c in member_curves for k in c.series}:
        curves.series[key], curves.bands[key] = mean_band(
            [c.series.get(key, []) for c in member_curves]
        )
    loss = "val_loss" if "val_loss" in curves.series else "train_loss"
    curves.label += runs_per_epoch_note([c.series.get(loss, []) for c in member_curves])
    common = {
        k: v
        for k, v in members[0].params.items()
        if all(run.params.get(k) == v for run in members[1:])
    }
    metrics = {
        key: summarize([r.metrics[key] for r in members if key in r.metrics]).mean
        for key in SUMMARY_METRICS
    }
    counted = f"{len(member_curves)} of {len(members)}" if without else f"{len(members)}"
    column = SimpleNamespace(
        run_id=parent.run_id,
        name=parent.name,
        kind=parent.kind,
        params=common,
        metrics=metrics,
        tags={"diagnosis": f"mean of {counted} {what}"},
    )
    return column, curves, members


def default_output(runs: list[Any]) -> Path:
    ids = [short_id(run.run_id) for run in runs[:MAX_IDS_IN_NAME]]
    if len(runs) > MAX_IDS_IN_NAME:
        ids.append(f"and{len(runs) - MAX_IDS_IN_NAME}more")
    from nnexp.project import store_dir

    path = store_dir() / f"compare-{'-'.join(ids)}.png"  # never inside conf/ (see project.py)
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def summary_lines(runs: list[Any]) -> list[str]:
    """A table, one column per run: the differing params, then losses and diagnosis."""
    params = differing_params(runs)
    rows: list[tuple[str, list[str]]] = [
        (key, [format_param(run.params.get(key, MISSING), CELL_WIDTH) for run in runs])
        for key in params
    ]
    rows += [
        (key, [format_number(run.metrics.get(key)) for run in runs]) for key in SUMMARY_METRICS
    ]
    rows.append(("diagnosis", [run.tags.get("diagnosis", MISSING) for run in runs]))
    columns = [Column("", [name for name, _ in rows])]
    for index, run in enumerate(runs):
        columns.append(Column(short_id(run.run_id), [cells[index] for _, cells in rows]))
    heading = (
        f"params that differ ({len(params)}), then results:"
        if params
        else "no params differ between the runs; results:"
    )
    return [heading, *render(columns)]
