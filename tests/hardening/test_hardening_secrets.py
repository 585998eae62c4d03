"""Secrets never reach a byte nnexp writes: the console, MLflow (tags, params, names, artifacts,
the database), Optuna's storage, Hydra's files.

The end-to-end tests run real commands with a secret in an accepted URI (a tracking server
reached as ``http://user:SECRET@127.0.0.1:PORT/``; an Optuna storage URL with
``?password=SECRET``) and grep every byte they leave behind for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hardening_support import TINY, run
from services import serve

from nnexp.cmdline import split_line
from nnexp.redact import redact

SECRET = "Sekr1tPw"  # every secret below contains it; grepped for in every byte


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://bob:Sekr1tPw@127.0.0.1:5000/", "http://bob:***@127.0.0.1:5000/"),
        # Hydra's escaping in a multirun job's overrides, and the same inside JSON
        (
            "tracking.uri=http\\://bob\\:Sekr1tPw@127.0.0.1\\:5000/",
            "tracking.uri=http\\://bob\\:***@127.0.0.1\\:5000/",
        ),
        (
            '"tracking.uri=http\\\\://bob\\\\:Sekr1tPw@h\\\\:1/"',
            '"tracking.uri=http\\\\://bob\\\\:***@h\\\\:1/"',
        ),
        ("'tracking.uri=http://bob:Sekr1tPw@h:1/'", "'tracking.uri=http://bob:***@h:1/'"),
        ("http://bob:p@Sekr1tPw@host/x", "http://bob:***@host/x"),  # '@' in the password
        ("http://bob:Sekr1t'Pw@host/x", "http://bob:***@host/x"),  # a quote in it
        ("http\\://bob\\:Sekr1t\\ Pw@host/", "http\\://bob\\:***@host/"),  # an escaped space
        (
            "postgresql+psycopg://nnexp:Sekr1tPw@127.0.0.1:5432/optuna",
            "postgresql+psycopg://nnexp:***@127.0.0.1:5432/optuna",
        ),
        ("sqlite:///x.db?password=Sekr1tPw&mode=ro", "sqlite:///x.db?password=***&mode=ro"),
        ("sqlite:///x.db?password\\=Sekr1tPw", "sqlite:///x.db?password\\=***"),
        ("'sweep.storage=sqlite:///x?pwd=Sekr1tPw'", "'sweep.storage=sqlite:///x?pwd=***'"),
        ("https://s3/x?X-Amz-Signature=Sekr1tPw&b=1", "https://s3/x?X-Amz-Signature=***&b=1"),
        ("https://h/x?client_secret=Sekr1tPw", "https://h/x?client_secret=***"),
        ("host=h password=Sekr1tPw dbname=x", "host=h password=*** dbname=x"),
        ("MLFLOW_TRACKING_PASSWORD=Sekr1tPw", "MLFLOW_TRACKING_PASSWORD=***"),
        # a user name alone may be a token: redacted whole (pip's rule)
        ("https://ghp_Sekr1tPw@example.com/x", "https://***@example.com/x"),
        ("tracking.uri=https\\://Sekr1tPw@h\\:1/", "tracking.uri=https\\://***@h\\:1/"),
        ("'tracking.uri=https://Sekr1tPw@h:1'", "'tracking.uri=https://***@h:1'"),
        # not secrets: left alone
        ("http://localhost:5000/ and a@b.com", "http://localhost:5000/ and a@b.com"),
        ("git@github.com:nnexp/nnexp.git", "git@github.com:nnexp/nnexp.git"),
        ('["http://h:5000", "a@b.com"]', '["http://h:5000", "a@b.com"]'),
        ("optimizer.lr=0.1 tracking.log_model=false", "optimizer.lr=0.1 tracking.log_model=false"),
    ],
)
def test_redact_forms(text, expected):
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


def test_redaction_leaves_the_default_config_alone():
    """No key or value of the shipped config looks like a secret (params stay as logged)."""
    from nnexp.config.compose import compose_config
    from nnexp.config.flatten import flatten_config

    flat = flatten_config(compose_config(["+sweep=lr"], validate=False))
    assert {k: redact(f"{k}={v}") for k, v in flat.items()} == {
        k: f"{k}={v}" for k, v in flat.items()
    }


def test_console_stream_redacts_lines_written_in_pieces():
    import io

    from nnexp.redacted_output import RedactingStream

    target = io.StringIO()
    stream = RedactingStream(target)
    for piece in ["open http://bob:Sek", "r1tPw@h", "ost:5000/ now\nnext ", "?password=Sekr1tPw"]:
        stream.write(piece)
    assert target.getvalue() == "open http://bob:***@host:5000/ now\n"
    stream.write("\r")
    assert target.getvalue().endswith("next ?password=***\r")
    stream.write("tail http://u:Sekr1tPw@h/")
    stream.flush()
    assert target.getvalue().endswith("tail http://u:***@h/")


def test_tracking_client_redacts_text_artifacts_and_keeps_binary_ones(tmp_path):
    from mlflow import MlflowClient

    from nnexp.tracking.client import tracking_client

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = tracking_client(uri)
    experiment = client.create_experiment("x", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(
        experiment, run_name="http://u:Sekr1tPw@h/", tags={"t": "?pwd=Sekr1tPw"}
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "trials.csv").write_text("number,overrides\n0,tracking.uri=http://u:Sekr1tPw@h/\n")
    binary = b"\x89PNG\r\n\x00http://u:Sekr1tPw@h/"
    (folder / "picture.png").write_bytes(binary)
    client.log_artifacts(run.info.run_id, str(folder))
    client.log_text(run.info.run_id, "uri: http://u:Sekr1tPw@h/", "sweep.yaml")
    client.log_dict(run.info.run_id, {"best_command": "x?password=Sekr1tPw"}, "best.json")

    assert (folder / "trials.csv").read_text().count(SECRET) == 1  # the caller's file is untouched
    stored = tmp_path / "artifacts" / run.info.run_id / "artifacts"
    assert (stored / "trials.csv").read_text() == (
        "number,overrides\n0,tracking.uri=http://u:***@h/\n"
    )
    assert (stored / "picture.png").read_bytes() == binary  # binary files are not rewritten
    assert (stored / "sweep.yaml").read_text() == "uri: http://u:***@h/"
    assert SECRET not in (stored / "best.json").read_text()
    back = MlflowClient(uri).get_run(run.info.run_id)
    assert back.info.run_name == "http://u:***@h/"
    assert back.data.tags["t"] == "?pwd=***"


# -- end to end ----------------------------------------------------------------------------------
def leaks(roots: list[Path], outputs: list[str]) -> list[str]:
    """Every file under ``roots`` (names and bytes) and every output that holds the secret."""
    found = [f"output {i}" for i, text in enumerate(outputs) if SECRET in text]
    for root in roots:
        for path in root.rglob("*"):
            if SECRET in str(path):
                found.append(f"name {path}")
            elif path.is_file() and not path.is_symlink() and SECRET.encode() in path.read_bytes():
                found.append(str(path))
    return found


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.slow
def test_sweep_and_untracked_multirun_leave_no_secret_in_any_byte(tmp_path):
    """A local store; the Optuna storage URL holds ``?password=``, a run name a
    ``user:password@`` URI (which every override line, tag and artifact then carries); and a
    multirun with ``tracking=off``, where Hydra's ``multirun.yaml`` was the only copy."""
    work = tmp_path / "work"
    (work / "optuna").mkdir(parents=True)
    storage = f"sqlite:///file:{work / 'optuna' / 'optuna.db'}?mode=rwc&password={SECRET}&uri=true"
    named = f"tracking.run_name='https://bob:{SECRET}@example.org/x?token={SECRET}'"
    fast = [*TINY, "trainer.epochs=3"]
    sweep = run(["+sweep=lr", "sweep.n_trials=2", f"sweep.storage='{storage}'", named, *fast], work)
    assert sweep.returncode == 0, sweep.stderr
    off = run(["-m", "optimizer.lr=0.01,0.1", named, *fast, "tracking=off"], work)
    assert off.returncode == 0, off.stderr
    assert off.stdout.count("diagnosis:") == 2

    assert leaks([work], [sweep.stdout + sweep.stderr, off.stdout + off.stderr]) == []
    assert (work / "optuna" / "optuna.db").stat().st_size > 0  # the storage was used
    rerun = next(line for line in sweep.stdout.splitlines() if "re-run it:" in line)
    words = split_line(rerun.split("re-run it: ", 1)[1])
    assert "tracking.run_name='https://bob:***@example.org/x?token=***'" in words
    # the README's promise for sweep.yaml: the storage URL is there, its password is not
    [sweep_yaml] = [p for p in stored_files(work / "mlruns") if p.name == "sweep.yaml"]
    assert "password=***&uri=true" in sweep_yaml.read_text()
    assert not (work / "mlruns" / ".hydra").exists()  # Hydra's multirun.yaml was never written
    assert not list(work.rglob("multirun.yaml"))


@pytest.mark.slow
def test_a_submitit_multirun_with_a_password_is_refused_before_any_job_file(tmp_path):
    """Hydra's submitit launcher pickles the composed config and each job's overrides into
    ``.submitit/*.pkl``: a password there stayed in clear. Refused before anything exists."""
    work = tmp_path / "work"
    work.mkdir()
    uri = f"tracking.uri=http://bob:{SECRET}@127.0.0.1:9/"
    named = f"tracking.run_name='https://bob:{SECRET}@example.org/x'"
    for args in ([uri], [named, "tracking=off"]):
        refused = run(
            ["-m", "hydra/launcher=submitit_local", "optimizer.lr=0.01,0.1", *TINY, *args], work
        )
        assert refused.returncode == 2, refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith("nnexp: error: tracking.")
        assert "holds a password" in line and "MLFLOW_TRACKING_PASSWORD" in line
        assert "bob:***@" in line
    assert leaks([work], [refused.stdout + refused.stderr]) == []
    assert not list(work.rglob(".submitit"))
    assert not (work / "mlruns" / "mlflow.db").exists()  # no parent run, no store


def test_hydras_own_files_hold_no_password_when_the_user_asks_for_them(tmp_path):
    """``hydra.output_subdir=.hydra`` (Hydra's default; nnexp's is null) saves the job's
    config, Hydra's config and the overrides: with the password replaced by ``***``."""
    work = tmp_path / "work"
    work.mkdir()
    named = f"tracking.run_name='https://bob:{SECRET}@example.org/x'"
    done = run(
        [*TINY, "trainer.epochs=3", "hydra.output_subdir=.hydra", named, "tracking=off"], work
    )
    assert done.returncode == 0, done.stderr
    saved = sorted(p.name for p in work.rglob(".hydra/*.yaml"))
    assert saved == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    overrides = next(work.rglob(".hydra/overrides.yaml")).read_text()
    assert "tracking.run_name='https://bob:***@example.org/x'" in overrides
    assert leaks([work], [done.stdout + done.stderr]) == []


@pytest.mark.slow
def test_tracking_server_password_reaches_no_byte(tmp_path):
    """Issue 12: ``tracking.uri=http://user:PASSWORD@host:port/`` for a sweep and a multirun
    (plus ``runs`` and ``reproduce`` against it): the password is in no output, no artifact, no
    journal, no Hydra file and not in the server's database."""
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    with serve(f"sqlite:///{server_dir / 'server.db'}") as server:
        url = server.url
        uri = url.replace("http://", f"http://bob:{SECRET}@") + "/"
        fast = [*TINY, "trainer.epochs=3", f"tracking.uri={uri}"]
        sweep = run(["+sweep=lr", "sweep.n_trials=2", *fast], work)
        assert sweep.returncode == 0, sweep.stderr
        # each multirun job is a single run (run_experiment), so this covers both
        multi = run(["-m", "optimizer.lr=0.01,0.1", *fast, "tracking.log_plots=false"], work)
        assert multi.returncode == 0, multi.stderr
        run_id = next(
            line.split()[2] for line in multi.stdout.splitlines() if "MLflow run:" in line
        )
        listed = run(["runs", "--tracking-uri", uri], work)
        assert listed.returncode == 0, listed.stderr
        again = run(["reproduce", run_id, "--tracking-uri", uri], work)
        assert again.returncode == 0, again.stdout + again.stderr
        outputs = [r.stdout + r.stderr for r in (sweep, multi, listed, again)]
        # the server's artifact folder is removed when it stops: look at it before
        assert any(p.name == "best.json" for p in stored_files(server.artifacts))
        assert leaks([work, server_dir, server.artifacts.parent], outputs) == []
    assert "re-run it: python -m nnexp" in sweep.stdout
    assert f"'tracking.uri=http://bob:***@{url[len('http://') :]}/'" in sweep.stdout
    assert (server_dir / "server.db").stat().st_size > 0
