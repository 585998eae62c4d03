"""Read the README's ```bash blocks as the commands a new user types, in order.

Why: issue 13 asks that every README command run, as written and in order, in one fresh clone.
This module turns README.md into a list of commands (continuation lines joined, trailing
comments dropped) and holds the two tables that say how the test treats each command: which
ones it skips (and which other test covers them) and which size knobs it appends to keep the
run short. Both tables are keyed on commands that must still be in the README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = re.compile(r"^\s*```(\w*)\s*$")


@dataclass(frozen=True)
class Command:
    """One shell command of a README ```bash block: ``line`` is its first line (1-based)."""

    line: int
    text: str


def strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` outside quotes after a blank)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def bash_commands(readme: str) -> list[Command]:
    """The commands of every ```bash block of ``readme``, in order (other blocks are prose)."""
    commands: list[Command] = []
    in_bash = in_block = False
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(readme.splitlines(), start=1):
        fence = FENCE.match(raw)
        if fence:
            in_bash = not in_block and fence.group(1) == "bash"
            in_block = not in_block
            continue
        if not in_bash:
            continue
        text = strip_comment(raw).strip()
        if not pending:
            if not text:
                continue
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1].strip())
            continue
        pending.append(text)
        commands.append(Command(start, " ".join(part for part in pending if part)))
        pending = []
    assert not pending, f"README.md:{start}: a continued command never ends"
    return commands


#: Commands the test does not run, keyed on the start of the command: why, and which test
#: covers them instead. Each key must start at least one README command.
SKIPPED: dict[str, str] = {
    "python -m pip install": "installs into the machine's environment; tests/packaging/test_wheel_install.py installs into a fresh virtualenv",
    "python -m pytest": "the test suite itself (this test is part of it)",
    "mlflow ui": "a long-running server; tests/ui/test_ui_mlflow.py starts the UI and opens it in Chromium",
    "export MLFLOW_TRACKING_URI=": "sets the store for the serving commands below, run by tests/tracking/test_model_venv.py",
    "mlflow models serve": "a long-running server; tests/tracking/test_model_venv.py serves a model and calls /invocations",
    "curl -s http://127.0.0.1:5001/invocations": "needs the model server above; tests/tracking/test_model_venv.py",
    "export PATH=/usr/lib/postgresql": "PostgreSQL set-up; tests/scaleout/conftest.py starts its own PostgreSQL",
    "initdb ": "PostgreSQL set-up; tests/scaleout/conftest.py",
    "pg_ctl ": "PostgreSQL set-up; tests/scaleout/conftest.py",
    "psql ": "PostgreSQL set-up; tests/scaleout/conftest.py",
    "createdb ": "PostgreSQL set-up; tests/scaleout/conftest.py",
    "mlflow server": "a tracking server on PostgreSQL; tests/scaleout/conftest.py",
    "MLFLOW_AUTH_ADMIN_PASSWORD=": "an authenticated tracking server; tests/scaleout/test_scaleout_auth.py",
    "python -m nnexp +sweep=lr tracking=server": "needs PostgreSQL and a tracking server; tests/scaleout/test_scaleout_workers.py",
    "python -m nnexp +sweep=lr sweep.workers=16 sweep.launcher=slurm": "needs a Slurm cluster; tests/slurm/test_slurm_sweep.py",
    "python -m nnexp -m hydra/launcher=submitit_slurm": "needs a Slurm cluster; tests/slurm/test_slurm_multirun.py",
}

#: Size knobs appended to a command (appended Hydra overrides and argparse options win over
#: earlier ones), keyed on the start of the command; the first matching key applies. A value
#: of ``""`` runs the command as written. Each key must start at least one README command.
SIZE_KNOBS: list[tuple[str, str]] = [
    ("python -m nnexp --", ""),  # --help, --cfg: print only
    ("python -m nnexp +sweep=lr --cfg", ""),
    (
        "python -m nnexp +sweep=lr sweep.confirm.top_k=0",
        "sweep.n_trials=3 data.n_samples=120 trainer.epochs=5",
    ),
    (
        "python -m nnexp +sweep=capacity",
        "sweep.n_trials=3 sweep.confirm.top_k=1 sweep.confirm.seeds=2",
    ),
    (
        "python -m nnexp +sweep=",
        "sweep.n_trials=3 sweep.confirm.top_k=1 sweep.confirm.seeds=2"
        " data.n_samples=120 trainer.epochs=5",
    ),
    ("python -m nnexp confirm ", "--top-k 1 --seeds 2"),
    ("python -m nnexp runs", ""),
    ("python -m nnexp reproduce", ""),
    ("python -m nnexp compare", ""),
    # XOR is its 4 points: no data.n_samples to take (refused)
    ("python -m nnexp +experiment=seed_xor", "trainer.epochs=5"),
    ("python -m nnexp", "data.n_samples=120 trainer.epochs=5"),
    (
        "nnexp --config-dir",
        "sweep.n_trials=3 sweep.confirm.top_k=1 sweep.confirm.seeds=2"
        " data.n_samples=120 trainer.epochs=5",
    ),
    ("nnexp ", "data.n_samples=120 trainer.epochs=5"),
]


def skip_reason(command: str) -> str | None:
    """Why ``command`` is not run, or None."""
    for start, reason in SKIPPED.items():
        if command.startswith(start):
            return reason
    return None


def reduced(command: str) -> str:
    """``command`` with the size knobs of its first matching ``SIZE_KNOBS`` key appended."""
    for start, knobs in SIZE_KNOBS:
        if command.startswith(start):
            return f"{command} {knobs}".rstrip()
    return command
