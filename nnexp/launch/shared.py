"""Refuse, before anything is submitted, stores that Slurm jobs on other nodes cannot share.

A journal file (the default study storage), a ``sqlite:///`` study or an MLflow SQLite store
live on this machine's disk: workers on other nodes would each open their own copy, or fail to
find it, and the sweep would split into several studies and lose runs. They are refused with one
line naming the value and the way out (a PostgreSQL study and an MLflow server, README "Scale
out"), unless ``launcher.shared_filesystem=true`` says the path is mounted on every node.
"""

from __future__ import annotations

from nnexp.errors import ConfigError
from nnexp.redact import redact

#: URL schemes of stores that live in a local file
FILE_SCHEMES = ("sqlite", "file")
OPT_IN = "launcher.shared_filesystem=true"


def check_shared(
    storage: str | None, storage_path: str, tracking_uri: str | None, shared_filesystem: bool
) -> None:
    """Raise :class:`ConfigError` if the study or the tracking store is a local file.

    ``storage``: ``sweep.storage`` as given (None: the default journal file, ``storage_path``);
    ``tracking_uri``: ``tracking.uri`` when tracking is on, else None.
    """
    if shared_filesystem:
        return
    if storage is None or _is_file(storage):
        shown = (
            f"sweep.storage={storage}" if storage else f"sweep.storage (default: {storage_path})"
        )
        raise ConfigError(
            f"{redact(shown)} is a file on this machine, which Slurm jobs on other nodes cannot "
            "share: use a PostgreSQL study (sweep.storage=postgresql+psycopg://..., README 'Scale "
            f"out'), or {OPT_IN} if every node mounts this path"
        )
    check_shared_tracking(tracking_uri, shared_filesystem)


def check_shared_tracking(tracking_uri: str | None, shared_filesystem: bool) -> None:
    """Raise :class:`ConfigError` if the MLflow store (None: tracking off) is a local file.

    Also for a Hydra multirun on Slurm (``hydra/launcher=submitit_slurm``), whose jobs write
    their runs into the store from the nodes."""
    if shared_filesystem or tracking_uri is None or not _is_file(tracking_uri):
        return
    raise ConfigError(
        f"tracking.uri={redact(tracking_uri)} is a local MLflow store, which Slurm jobs on "
        "other nodes cannot share: use an MLflow server (tracking=server tracking.uri=http://"
        f"HOST:PORT, README 'Scale out'), or {OPT_IN} if every node mounts this path"
    )


def _is_file(uri: str) -> bool:
    if "://" not in uri:
        return True  # a plain path
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower()
    return scheme in FILE_SCHEMES
