"""``python -m nnexp confirm PARENT_ID --top-k 3 --seeds 5``: confirm an existing sweep's winners.

The sweep's parent run records the command that ran it; this re-runs that command with
``sweep.confirm.top_k``/``sweep.confirm.seeds`` set. The study is complete, so no search trial
runs: the command goes straight to the confirm phase (:mod:`nnexp.sweep.confirm`), which resumes
like any sweep (a second call with the same numbers runs nothing twice), and the report lands on
the same parent run. It is exactly the command a person could type, printed before it runs.
"""

from __future__ import annotations

import shlex
from typing import Any

from nnexp.commands.common import make_parser, open_reader
from nnexp.errors import NnexpError

#: What a run of each ``nnexp.kind`` is, for the error on a run that is not a sweep's parent.
KIND_WORDS = {
    "run": "a single run",
    "trial": "a sweep's trial",
    "confirm": "a confirm run of a sweep",
    "multirun": "a multirun's parent",
    "reproduction": "a reproduction",
}


def build_parser() -> Any:
    parser = make_parser(
        "confirm",
        "Re-run a finished sweep's best configurations over fresh seeds and report mean ± 95% CI\n"
        "and paired tests on its parent run. Example: python -m nnexp confirm 1a2b3c4d --seeds 5",
    )
    parser.add_argument("parent", metavar="PARENT_ID", help="the sweep's parent run id (or prefix)")
    parser.add_argument("--top-k", type=int, default=3, help="configurations (default: 3)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (default: 5)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="do not run the base config on the same seeds"
    )
    return parser


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
    check_counts(opts.top_k, opts.seeds)
    reader = open_reader(opts.tracking_uri)
    parent = reader.get_run(opts.parent)
    if parent.kind != "sweep":
        what = KIND_WORDS.get(parent.kind, f"a {parent.kind!r} run")
        raise NnexpError(
            f"confirm: run {parent.run_id} ({parent.name}) is {what}, "
            "not a sweep's parent (python -m nnexp runs lists the parents)"
        )
    command = parent.tags.get("command", "")
    words = shlex.split(command)
    if words[:3] != ["python", "-m", "nnexp"]:
        raise NnexpError(f"confirm: the parent's command tag is not an nnexp command: {command!r}")
    if "***" in command:
        raise NnexpError(
            "confirm: the sweep's command held a password (recorded as ***); run it again "
            "yourself with sweep.confirm.top_k=K sweep.confirm.seeds=S added"
        )
    overrides = [w for w in words[3:] if not w.lstrip("+").startswith("sweep.confirm.")]
    overrides += [
        f"sweep.confirm.top_k={opts.top_k}",
        f"sweep.confirm.seeds={opts.seeds}",
        f"sweep.confirm.baseline={str(not opts.no_baseline).lower()}",
    ]
    # Without --tracking-uri the run resolves the same default store as the reader did.
    named = any(w.split("=", 1)[0].lstrip("+") == "tracking.uri" for w in overrides)
    if opts.tracking_uri is not None and not named:
        overrides.append(f"tracking.uri={opts.tracking_uri}")
    print("confirm: python -m nnexp " + " ".join(shlex.quote(w) for w in overrides), flush=True)
    from nnexp.cli import main as run_command

    return run_command(overrides)


def check_counts(top_k: int, seeds: int) -> None:
    """``--top-k``/``--seeds`` as the confirm phase checks them (:func:`check_confirm`), but
    before the command is printed or any store is opened: a bad count is one line, alone."""
    from nnexp.sweep.overrides import SEED_STRIDE

    if top_k < 1:
        raise NnexpError(f"confirm: --top-k {top_k} is invalid: must be >= 1 (configurations)")
    if seeds < 2:
        raise NnexpError(
            f"confirm: --seeds {seeds} is invalid: must be >= 2 (an interval needs two values)"
        )
    if seeds >= SEED_STRIDE // 2:
        raise NnexpError(f"confirm: --seeds {seeds} is invalid: must be < {SEED_STRIDE // 2}")
