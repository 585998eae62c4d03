"""The one MLflow client nnexp writes through: every name, param, tag, text and artifact redacted.

nnexp's runs are written by the run recorder, the sweep's parent/child bookkeeping, the reaper and
``reproduce``. Each used to redact what it passed to MLflow; a sweep's ``best.json`` and
``trials.csv`` artifacts were missed and held a tracking password in clear. Here the redaction
sits under all of them: :func:`tracking_client` returns an ``MlflowClient`` whose writing
methods pass every string through :func:`nnexp.redact.redact` (artifact files too: a text file
holding a secret is uploaded as a redacted copy; binary files, such as weights and pictures, as
they are). Code that writes to MLflow gets its client here, never from ``MlflowClient(...)``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnexp.redact import redact, redact_value

#: Text artifacts larger than this are uploaded as they are (nnexp writes none this large).
MAX_SCANNED_BYTES = 64 * 1024 * 1024

_CLASS: Any = None


def tracking_client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri`` that redacts everything it writes."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _redacting_class()
    return _CLASS(tracking_uri=uri)


def _redacting_class() -> Any:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, Param, RunTag

    class RedactingClient(MlflowClient):
        """``MlflowClient`` whose writes cannot carry a password (see the module docstring)."""

        def create_run(
            self,
            experiment_id: str,
            start_time: int | None = None,
            tags: Mapping[str, Any] | None = None,
            run_name: str | None = None,
        ) -> Any:
            return super().create_run(
                experiment_id,
                start_time=start_time,
                tags=_tags(tags),
                run_name=redact(run_name) if run_name is not None else None,
            )

        def update_run(self, run_id: str, status: str | None = None, name: str | None = None):
            return super().update_run(
                run_id, status=status, name=redact(name) if name is not None else None
            )

        def log_batch(
            self,
            run_id: str,
            metrics: Sequence[Any] = (),
            params: Sequence[Any] = (),
            tags: Sequence[Any] = (),
            synchronous: bool | None = None,
        ) -> Any:
            params = [Param(redact(p.key), redact(p.value)) for p in params]
            tags = [RunTag(redact(t.key), redact(t.value)) for t in tags]
            return super().log_batch(run_id, metrics, params, tags, synchronous=synchronous)

        def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None):
            return super().set_tag(run_id, redact(key), redact(value), synchronous=synchronous)

        def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None):
            return super().log_param(run_id, redact(key), redact(value), synchronous=synchronous)

        def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
            return super().set_experiment_tag(experiment_id, redact(key), redact(value))

        def create_experiment(
            self,
            name: str,
            artifact_location: str | None = None,
            tags: Mapping[str, Any] | None = None,
        ) -> str:
            return super().create_experiment(name, artifact_location, _tags(tags))

        def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
            return super().log_text(run_id, redact(text), artifact_file)

        def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
            return super().log_dict(run_id, redact_value(dictionary), artifact_file)

        def log_artifact(self, run_id: str, local_path: Any, artifact_path: str | None = None):
            with redacted_files(Path(local_path)) as path:
                return super().log_artifact(run_id, str(path), artifact_path)

        def log_artifacts(self, run_id: str, local_dir: Any, artifact_path: str | None = None):
            with redacted_files(Path(local_dir)) as path:
                return super().log_artifacts(run_id, str(path), artifact_path)

        def log_inputs(self, run_id: str, datasets: Any = None, models: Any = None) -> None:
            if datasets:
                datasets = [
                    DatasetInput(
                        Dataset(
                            name=redact(d.dataset.name),
                            digest=d.dataset.digest,
                            source_type=d.dataset.source_type,
                            source=redact(d.dataset.source),
                            schema=d.dataset.schema,
                            profile=d.dataset.profile,
                        ),
                        d.tags,
                    )
                    for d in datasets
                ]
            return super().log_inputs(run_id, datasets=datasets, models=models)

    return RedactingClient


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str] | None:
    if tags is None:
        return None
    return {redact(key): redact(value) for key, value in tags.items()}


@contextmanager
def redacted_files(path: Path) -> Iterator[Path]:
    """``path`` (a file or a folder) as it may be uploaded: itself if no text file in it holds a
    secret, else a temporary copy in which those files are redacted (the rest linked or copied).
    """
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    changed = {}
    for file in files:
        text = _redacted_text(file)
        if text is not None:
            changed[file] = text
    if not changed:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="nnexp-redacted-") as tmp:
        root = Path(tmp) / path.name
        if path.is_file():
            root.write_text(changed[path], encoding="utf-8")
        else:
            for file in files:
                target = root / file.relative_to(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                if file in changed:
                    target.write_text(changed[file], encoding="utf-8")
                else:
                    _link_or_copy(file, target)
        yield root


def _redacted_text(file: Path) -> str | None:
    """The redacted text of ``file`` if it is UTF-8 text holding a secret, else None."""
    try:
        if file.stat().st_size > MAX_SCANNED_BYTES:
            return None
        text = file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    clean = redact(text)
    return clean if clean != text else None


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
