"""Every README command runs, in the order written, in one fresh copy of the repository.

Issue 13: the README drifted from what nnexp accepts. This test reads README.md's ```bash
blocks (``readme_commands.bash_commands``) and runs each command with bash, one after the other,
in a fresh copy of the repository's files (what ``git clone`` gives, uncommitted edits
included), with the store the commands make themselves (``mlruns/`` of the copy). Commands that
need an outside service are skipped by ``readme_commands.SKIPPED`` (each names the test that
covers it); size knobs from ``readme_commands.SIZE_KNOBS`` are appended so the sequence stays
short. Placeholders are replaced as a user would: ``RUN_ID`` by the newest single run,
``PARENT_ID`` by the newest ``+sweep=lr`` parent (``PLACEHOLDERS``), ``/home/me/my-configs`` by a folder holding the
README's ``model/my_net.yaml`` and ``experiment/mine.yaml``. No ```bash line of the README
is meant to fail (its error examples are ```text blocks), so every command run must exit 0.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from nnexp_testing import nnexp_env, write_user_configs
from readme_commands import SIZE_KNOBS, SKIPPED, bash_commands, reduced, skip_reason

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
COMMAND_TIMEOUT_S = 600


def _fresh_copy(destination: Path) -> Path:
    """The files a clone of this repository holds (tracked and new, not ignored), as a git
    repository of its own (nnexp finds the project's root by its ``.git``)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    return destination


#: What a README placeholder stands for: an MLflow filter on the runs a user would pick from.
#: ``PARENT_ID`` is a parent of the ``+sweep=lr`` sweeps the README's sweep sections run (its
#: ``runs --parent PARENT_ID --sort -test_accuracy`` needs a classification sweep, so not the
#: regression ``capacity`` sweep run in between); ``RUN_ID`` a single run (not a child).
PLACEHOLDERS = {
    "PARENT_ID": "tags.`nnexp.kind` = 'sweep' and tags.command LIKE 'python -m nnexp +sweep=lr%'",
    "RUN_ID": "tags.`nnexp.kind` = 'run'",
}


def _newest_run_ids(store: Path, filter_string: str, count: int) -> list[str]:
    """The ``count`` newest top-level runs matching ``filter_string``, in any experiment."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiments,
        filter_string=filter_string,
        order_by=["attributes.start_time DESC"],
    )
    top_level = [r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(top_level) >= count, (
        f"fewer than {count} runs ({filter_string}) in {store} for the README"
    )
    return top_level[:count]


def _with_placeholders(command: str, clone: Path, configs: Path) -> str:
    """``command`` with its placeholders filled in; the k-th ``RUN_ID`` (or ``PARENT_ID``) of a
    command is the k-th newest single run (sweep parent), so ``compare RUN_ID RUN_ID`` compares
    two runs (see ``PLACEHOLDERS``)."""
    store = clone / "mlruns" / "mlflow.db"
    for placeholder, filter_string in PLACEHOLDERS.items():
        count = len(re.findall(rf"\b{placeholder}\b", command))
        for run_id in _newest_run_ids(store, filter_string, count) if count else []:
            command = re.sub(rf"\b{placeholder}\b", run_id, command, count=1)
    return command.replace("/home/me/my-configs", str(configs))


def test_the_skip_list_and_the_size_knobs_name_readme_commands():
    commands = [c.text for c in bash_commands(README)]
    assert commands, "README.md has no ```bash block"
    for start in SKIPPED:
        assert any(c.startswith(start) for c in commands), f"SKIPPED names a gone command: {start}"
    for start, _ in SIZE_KNOBS:
        assert any(c.startswith(start) for c in commands), (
            f"SIZE_KNOBS names a gone command: {start}"
        )
    run = [c for c in commands if skip_reason(c) is None]
    assert "python -m nnexp" in run and any(c.startswith("python -m nnexp +sweep=lr") for c in run)


def test_bash_commands_join_continuations_and_drop_comments():
    text = "```bash\na 'x # y' \\\n    b   # note\n# alone\nc\n```\n```text\nd\n```\n"
    assert [(c.line, c.text) for c in bash_commands(text)] == [(2, "a 'x # y' b"), (5, "c")]
    assert reduced("python -m nnexp confirm abc --seeds 5") == (
        "python -m nnexp confirm abc --seeds 5 --top-k 1 --seeds 2"
    )


@pytest.mark.slow
def test_every_readme_command_runs_in_order_in_a_fresh_clone(tmp_path):
    clone = _fresh_copy(tmp_path / "nnexp")
    configs = write_user_configs(tmp_path / "my-configs")
    env = nnexp_env(PYTHONPATH=str(clone), MPLBACKEND="Agg")
    timings: list[tuple[float, str]] = []
    for command in bash_commands(README):
        if skip_reason(command.text) is not None:
            continue
        line = _with_placeholders(reduced(command.text), clone, configs)
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-c", line],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        timings.append((time.monotonic() - started, line))
        print(f"{timings[-1][0]:6.1f} s  README.md:{command.line}: {line}", flush=True)
        assert result.returncode == 0, (
            f"README.md:{command.line}: `{line}` exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )
    print(f"{sum(s for s, _ in timings):6.1f} s  in all")
