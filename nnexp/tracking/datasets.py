"""The splits a run trained and evaluated on, as MLflow dataset inputs with nnexp's digests.

The digest is the split's fingerprint (a hash of its arrays), so the MLflow UI and
``reproduce`` can prove which data a run saw. A classifier's targets are integer codes; the
class name of each code goes with them (the source's tag ``nnexp.class_names``, and the run's
tag ``data.class_names``: a JSON list, code ``i`` is entry ``i``), as with the logged model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

#: MLflow's longest tag value (MAX_TAG_VAL_LENGTH): a longer list of names stays in the model
MAX_TAG_VALUE = 8000
CONTEXTS = (("train", "training"), ("val", "validation"), ("test", "testing"))


def class_names_tag(class_names: Sequence[str] | None) -> dict[str, str]:
    """``{"data.class_names": '["cat", "dog"]'}`` for a classifier, ``{}`` for regression
    (no names) or when the JSON list is longer than an MLflow tag value may be."""
    if not class_names:
        return {}
    text = json.dumps([str(name) for name in class_names])
    return {"data.class_names": text} if len(text) <= MAX_TAG_VALUE else {}


def split_datasets(
    splits: Any, dataset_name: str, source: str, class_names: Sequence[str] | None = None
) -> list[tuple[Any, str]]:
    """``(mlflow Dataset, context)`` for each split present in ``splits``; ``class_names``
    (a classifier's labels in code order) go into the source's tags."""
    source_tags = {"nnexp.source": source}
    if class_names_tag(class_names):
        source_tags["nnexp.class_names"] = class_names_tag(class_names)["data.class_names"]
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
            source=CodeDatasetSource(tags=source_tags),
        )
        pairs.append((dataset, context))
    return pairs
