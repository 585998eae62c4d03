"""Where an experiment's artifacts go, checked before the experiment or a run is created.

* Default location: next to a SQLite store (``<store folder>/artifacts``); the server's own
  artifact store for a tracking server (``http(s)://``: MLflow gives new experiments
  ``mlflow-artifacts:/...``, which every worker reaches through the server); the project's
  ``mlruns/artifacts`` for a database URI (there is no server to hold them).
* An explicit ``tracking.artifact_location`` is used as given, once it passes
  :func:`check_location`: a scheme MLflow can write to, a host that answers (``ftp://``,
  ``sftp://``, ``http(s)://``), the client library a cloud scheme needs.
* An existing experiment keeps the location it was created with (MLflow cannot move it). With a
  tracking server, a local path there (an experiment created by an older nnexp, or by a client
  that passed a local path) means every worker writes to its own disk and nobody else can read
  the files: :func:`check_experiment_location` refuses it in one line, unless the same location
  is given explicitly (a folder every machine mounts). An explicit location that differs from an
  existing experiment's is refused too, rather than silently ignored.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from nnexp.errors import TrackingError
from nnexp.redact import redact

#: Schemes MLflow 3 has an artifact repository for (``runs:``/``models:`` are not locations).
ARTIFACT_SCHEMES = (
    "file",
    "mlflow-artifacts",
    "http",
    "https",
    "s3",
    "gs",
    "wasbs",
    "abfss",
    "hdfs",
    "viewfs",
    "ftp",
    "sftp",
    "dbfs",
    "b2",
    "r2",
)
#: The Python package each cloud scheme's MLflow repository imports.
CLIENT_PACKAGES = {
    "s3": "boto3",
    "r2": "boto3",
    "b2": "boto3",
    "gs": "google.cloud.storage",
    "wasbs": "azure.storage.blob",
    "abfss": "azure.storage.filedatalake",
    "hdfs": "pyarrow",
    "viewfs": "pyarrow",
    "sftp": "pysftp",
}
DEFAULT_PORTS = {"ftp": 21, "sftp": 22, "http": 80, "https": 443}
REMOTE_STORE_SCHEMES = ("http", "https", "databricks")
KEY = "tracking.artifact_location"


def scheme_of(uri: str) -> str:
    """``s3`` for ``s3://b/k``, ``file`` for a plain path or ``file:///x``."""
    if "://" in uri:
        return uri.split("://", 1)[0].lower()
    if uri.startswith("mlflow-artifacts:"):
        return "mlflow-artifacts"
    return "file"


def is_remote_store(store_uri: str) -> bool:
    return scheme_of(store_uri).split("+", 1)[0] in REMOTE_STORE_SCHEMES


def default_location(store_uri: str, explicit: str | None) -> str | None:
    """The location to create a new experiment with (None: the tracking server decides)."""
    if explicit:
        return explicit
    if store_uri.startswith("sqlite:///"):
        return str(Path(store_uri[len("sqlite:///") :]).parent / "artifacts")
    if is_remote_store(store_uri):
        return None
    from nnexp.project import store_dir

    return str(store_dir() / "artifacts")


def check_location(location: str, store_uri: str, timeout: float = 5.0) -> None:
    """Refuse, in one line, a location that MLflow could not write to."""
    scheme = scheme_of(location)
    shown = redact(location)
    if scheme not in ARTIFACT_SCHEMES:
        raise TrackingError(
            f"{KEY}={shown!r} is invalid: unsupported scheme '{scheme}://'; valid: a folder, or "
            f"a URI starting with {', '.join(s + '://' for s in ARTIFACT_SCHEMES)}"
        )
    if scheme == "mlflow-artifacts" and not is_remote_store(store_uri):
        raise TrackingError(
            f"{KEY}={shown!r} is invalid: mlflow-artifacts:// is served by a tracking server, "
            f"and the store {redact(store_uri)} is not one"
        )
    package = CLIENT_PACKAGES.get(scheme)
    if package is not None:
        import importlib.util

        try:
            found = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise TrackingError(
                f"{KEY}={shown!r}: {scheme}:// needs the Python package "
                f"'{package.split('.')[0]}', which is not installed"
            )
    if scheme in ("s3", "r2", "b2"):
        _check_s3_credentials(location)
    if scheme in DEFAULT_PORTS:
        _check_reachable(location, scheme, timeout)


def _check_s3_credentials(location: str) -> None:
    """boto3 finds no credentials: every artifact upload would fail after the run started."""
    import boto3

    if boto3.session.Session().get_credentials() is None:
        raise TrackingError(
            f"{KEY}={redact(location)!r}: no AWS credentials found for it (set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
        )


def _check_reachable(location: str, scheme: str, timeout: float) -> None:
    parts = urlsplit(location)
    host = parts.hostname
    if not host:
        raise TrackingError(f"{KEY}={redact(location)!r} is invalid: no host name")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise TrackingError(f"{KEY}={redact(location)!r} is invalid: bad port") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise TrackingError(
            f"cannot reach the artifact store {redact(location)} ({host}:{port}): {reason}"
        ) from None


def check_experiment_location(
    name: str, existing: str, store_uri: str, explicit: str | None
) -> None:
    """An existing experiment's location must be usable from here (see the module doc)."""
    if explicit and not same_location(explicit, existing):
        raise TrackingError(
            f"{KEY}={redact(explicit)!r} cannot apply: experiment '{name}' already keeps its "
            f"artifacts in {redact(existing)} (MLflow cannot move them); drop the override or "
            "choose another tracking.experiment_name"
        )
    if is_remote_store(store_uri) and scheme_of(existing) == "file" and not explicit:
        raise TrackingError(
            f"experiment '{name}' on {redact(store_uri)} keeps its artifacts in {existing}, a "
            "local path other machines cannot read (made by a client, not the server); choose "
            "another tracking.experiment_name to use the server's artifact store, or pass "
            f"{KEY}={existing} if every machine mounts that folder"
        )
    if scheme_of(existing) != "file" and not explicit:
        try:
            check_location(existing, store_uri)
        except TrackingError as exc:
            raise TrackingError(
                f"experiment '{name}' keeps its artifacts in {redact(existing)}, which cannot "
                f"be used: {str(exc).split(': ', 1)[-1]}"
            ) from None


def same_location(a: str, b: str) -> bool:
    return as_uri(a).rstrip("/") == as_uri(b).rstrip("/")


def as_uri(location: str) -> str:
    """A plain (possibly relative) folder as an absolute ``file://`` URI; URIs unchanged."""
    if scheme_of(location) != "file" or location.startswith("file:"):
        return location
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    return path.resolve().as_uri()
