"""The splits a run trained and evaluated on, as MLflow dataset inputs with nnexp's digests.

The digest is the split's fingerprint (a hash of its arrays), so the MLflow UI and
``reproduce`` can prove which data a run saw.
"""

from __future__ import annotations

from typing import Any

CONTEXTS = (("train", "training"), ("val", "validation"), ("test", "testing"))


def split_datasets(splits: Any, dataset_name: str, source: str) -> list[tuple[Any, str]]:
    """``(mlflow Dataset, context)`` for each split present in ``splits``."""
    import mlflow.data
    from mlflow.data.code_dataset_source import CodeDatasetSource

    pairs = []
    for attribute, context in CONTEXTS:
        split = getattr(splits, attribute, None)
        if split is None:
            continue
        dataset = mlflow.data.from_numpy(
            split.X,
            targets=split.y,
            name=f"{dataset_name}-{attribute}",
            digest=split.fingerprint,
            source=CodeDatasetSource(tags={"nnexp.source": source}),
        )
        pairs.append((dataset, context))
    return pairs
