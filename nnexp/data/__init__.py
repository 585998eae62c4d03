"""nnexp.data: datasets, splits, standardisation and fingerprints.

```python
from nnexp.data import load_dataset, make_splits, DATASETS
ds = load_dataset("moons", n_samples=500, noise=0.2, seed=0)        # Dataset
splits = make_splits(ds, val_fraction=0.2, test_fraction=0.2, seed=0)
splits.train.X, splits.train.y, splits.train.fingerprint              # Split
```

Only NumPy is imported here; scikit-learn is imported inside the loaders of its bundled
datasets, so ``import nnexp.data`` is fast.
"""

from .baseline import LOSSES, trivial_accuracy, trivial_baseline
from .csv_data import load_csv
from .dataset import TASKS, Dataset, Split, Splits
from .fingerprint import array_fingerprint, combine_fingerprints
from .registry import DATASETS, dataset_defaults, load_dataset
from .splits import make_splits, round_table, split_sizes

__all__ = [
    "DATASETS",
    "LOSSES",
    "TASKS",
    "Dataset",
    "Split",
    "Splits",
    "array_fingerprint",
    "combine_fingerprints",
    "dataset_defaults",
    "load_csv",
    "load_dataset",
    "make_splits",
    "round_table",
    "split_sizes",
    "trivial_accuracy",
    "trivial_baseline",
]
