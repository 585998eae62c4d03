"""The dataset registry: ``DATASETS`` maps a name to its loader; ``load_dataset`` calls it.

Every loader returns a ``Dataset`` and accepts ``seed`` (ignored by the fixed datasets),
so a config can always pass one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import sklearn_data, synthetic
from .csv_data import load_csv
from .dataset import Dataset

__all__ = ["DATASETS", "dataset_defaults", "load_dataset"]

DATASETS: dict[str, Callable[..., Dataset]] = {
    # synthetic (NumPy, seeded)
    "xor": synthetic.xor,
    "moons": synthetic.moons,
    "circles": synthetic.circles,
    "spirals": synthetic.spirals,
    "blobs": synthetic.blobs,
    "sine": synthetic.sine,
    # bundled with scikit-learn (offline)
    "digits": sklearn_data.digits,
    "breast_cancer": sklearn_data.breast_cancer,
    "wine": sklearn_data.wine,
    "iris": sklearn_data.iris,
    "diabetes": sklearn_data.diabetes,
    # the user's own file
    "csv": load_csv,
}


def _loader(name: str) -> Callable[..., Dataset]:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def dataset_defaults(name: str) -> dict[str, Any]:
    """The keyword arguments ``name``'s loader accepts, with their defaults."""
    params = inspect.signature(_loader(name)).parameters
    return {key: p.default for key, p in params.items()}


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load dataset ``name`` with loader-specific ``kwargs`` (see ``dataset_defaults``).

    Raises ``ValueError`` for an unknown name, an argument the loader does not take
    (listing the ones it does), or an invalid argument value.
    """
    loader = _loader(name)
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"dataset {name!r} got unknown argument(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(accepted)}"
        )
    return loader(**kwargs)
