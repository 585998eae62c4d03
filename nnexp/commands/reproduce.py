"""``python -m nnexp reproduce RUN_ID``: re-run a recorded run and check every metric bit for bit.

Steps, each of which can stop it: read the run; rebuild its config (:mod:`.rebuild`) and check
that the params agree with it (exit 1 if the record was edited); warn about code and library
versions that differ from the recorded ones; rebuild the splits and check their fingerprints
(exit 1 if the data changed); re-run with tracking off (or ``--record``: as a new run tagged
``reproduces=<id>``); compare every per-epoch and final metric (:mod:`.replay`). Exit 0 only if
all are bit-identical, 1 at the first difference, 2 for bad input (unknown run, missing store).

A run that did not finish (a pruned sweep trial, a killed run) is replayed up to the last epoch
it recorded, and its recorded epochs are compared.
"""

from __future__ import annotations

import sys
from typing import Any

from nnexp.commands.common import make_parser, open_reader, short_id, warn
from nnexp.commands.replay import TIME_METRICS, compare_metrics, replay
from nnexp.errors import NnexpError
from nnexp.records.rebuild import check_data, rebuild_config, record_mismatch

EXIT_SAME, EXIT_DIFFERENT = 0, 1
PROVENANCE = (
    ("git_commit", "git commit"),
    ("nnexp_version", "nnexp version"),
    ("numpy_version", "numpy version"),
    ("blas", "BLAS"),
)
PARENT_KINDS = ("sweep", "multirun")


def build_parser() -> Any:
    parser = make_parser(
        "reproduce",
        "Re-run a recorded run from its MLflow record and check that every logged metric\n"
        "is bit-identical (exit 0), or name the first metric and epoch that differ (exit 1).",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="the run's id (or a unique prefix)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="log the reproduction as a new run tagged reproduces=RUN_ID (default: tracking off)",
    )
    return parser


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
    reader = open_reader(opts.tracking_uri)
    run = reader.get_run(opts.run_id)
    if run.kind in PARENT_KINDS:
        raise NnexpError(
            f"run {run.run_id} is a {run.kind} parent, not a training run; list its runs with "
            f"`python -m nnexp runs --parent {short_id(run.run_id)}` and reproduce one of them"
        )
    say(f"reproduce {run.run_id} ({_describe(run)}) from {reader.described_uri}")

    rebuilt = rebuild_config(reader, run)
    cfg = rebuilt.cfg
    mismatch = record_mismatch(cfg, run.params) if run.params else None
    if mismatch is not None:
        say(f"  config: {rebuilt.source}")
        say(f"  result: the record is inconsistent: {mismatch}")
        return EXIT_DIFFERENT
    checked = f"matches the {len(run.params)} params" if run.params else "no params to check"
    say(f"  config: {rebuilt.source}, {checked}")
    from nnexp.config.validate import validate_config

    validate_config(cfg, effect=False)  # a value without effect then has none now either
    warn_provenance(run.tags)

    data = check_data(cfg, run.tags)
    if data.mismatch is not None:
        say(f"  result: {data.mismatch}")
        return EXIT_DIFFERENT
    if data.checked:
        say(f"  data: fingerprint {data.fingerprint} matches ({', '.join(data.checked)})")
    else:
        warn("the run recorded no data fingerprint; the data could not be checked")

    recorded = {
        key: reader.metric_history(run.run_id, key)
        for key in sorted(run.metrics)
        if key not in TIME_METRICS
    }
    stop_after = _stop_after(run, recorded, opts.record)
    tags = None
    if opts.record:
        cfg.tracking.uri = reader.uri
        tags = {"reproduces": run.run_id, "nnexp.kind": "reproduction"}
    again = replay(
        cfg,
        stop_after=stop_after,
        record_tags=tags,
        overrides=recorded_overrides(run.tags.get("overrides", "")),
    )
    where = f"recorded as run {again.run_id}" if again.run_id else "tracking off"
    say(f"  re-run: {where}, {again.seconds:.1f} s")

    comparison = compare_metrics(recorded, again.expected)
    verdict = "bit-identical" if comparison.identical else f"differs: {comparison.first.describe()}"
    say(f"  compared {comparison.summary()}")
    say(f"  result: {verdict}")
    if again.run_id:
        reader.set_tags(again.run_id, {"reproduce.result": verdict})
    return EXIT_SAME if comparison.identical else EXIT_DIFFERENT


def recorded_overrides(line: str) -> list[str]:
    """The override list of an ``overrides`` tag (written by :func:`nnexp.cmdline.shell_line`).

    Records made before the tag was shell-quoted hold the overrides joined by spaces; if such a
    line does not split as shell text, its words are taken as they are (with a warning), since
    it was never quoted.
    """
    from nnexp.cmdline import split_line

    try:
        return split_line(line)
    except ValueError:
        warn("the run's overrides tag is not shell-quoted (an older record): split at spaces")
        return line.split()


def warn_provenance(tags: dict[str, str]) -> None:
    """One warning per recorded version (code, numpy, BLAS) that differs from this process's."""
    from nnexp.provenance import provenance

    now = provenance()
    for tag, label in PROVENANCE:
        recorded = tags.get(tag)
        if recorded is None:
            warn(f"the run has no {tag} tag: its {label} cannot be checked")
        elif recorded != now.get(tag):
            warn(f"{label} differs: the run recorded {recorded}, this is {now.get(tag)}")
    if tags.get("git_dirty") == "true":
        warn("the run was recorded with uncommitted changes (git_dirty=true): its code may differ")


def _stop_after(run: Any, recorded: dict[str, list[tuple[int, float]]], record: bool) -> int | None:
    """The last recorded epoch for a run that did not finish training, else None."""
    finished = run.status == "FINISHED" and run.tags.get("trial_state") != "PRUNED"
    if finished:
        return None
    last = max((step for points in recorded.values() for step, _ in points), default=0)
    state = run.tags.get("trial_state") if run.status == "FINISHED" else run.status
    if last == 0:
        raise NnexpError(f"run {run.run_id} ended {state} before recording an epoch")
    if record:
        raise NnexpError(f"--record needs a finished run; run {run.run_id} ended {state}")
    if run.status == "RUNNING":
        warn(f"run {run.run_id} is still RUNNING; comparing the epochs recorded so far")
    say(f"  note: the run ended {state} after epoch {last}; comparing its {last} epochs")
    return last


def _describe(run: Any) -> str:
    parts = [run.name or "unnamed", run.status]
    if run.kind == "trial":
        parts.append(
            f"trial {run.tags.get('trial_number', '?')} of sweep {run.tags.get('nnexp.study', '?')}"
        )
    return ", ".join(parts)


def say(line: str) -> None:
    print(line, file=sys.stdout, flush=True)
