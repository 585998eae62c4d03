"""``make_splits``: seeded train / val / test splits, standardisation, overfitting knobs.

Order of operations (each step only touches the training split unless stated):

1. split the dataset into train / val / test by fraction (stratified for classification);
2. ``n_train``: subsample the training split (stratified when possible);
3. ``label_noise`` and ``input_noise`` corrupt the training split; val / test stay clean
   so that fitting the noise shows up as a val / train gap;
4. standardise X with the mean / std of the (possibly noised) raw training X, applied to
   every split (no leakage from val / test).

Each random step has its own generator spawned from ``numpy.random.SeedSequence(seed)``,
so e.g. changing ``label_noise`` does not change which samples land in which split.
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

from ._checks import check_float, check_int, check_seed
from .dataset import Dataset, Split, Splits

__all__ = ["make_splits", "round_table", "split_sizes"]


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` for ``n`` samples.

    A held-out size is ``round(n * fraction)`` (Python rounding), but at least 1 when the
    fraction is positive, and 0 when it is 0.
    """

    def size(f: float) -> int:
        return 0 if f == 0 else max(1, round(n * f))

    n_val, n_test = size(val_fraction), size(test_fraction)
    return n - n_val - n_test, n_val, n_test


def round_table(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Allocate ``counts[c]`` samples of each class to groups of ``sizes[s]`` samples.

    Returns an int ``(len(counts), len(sizes))`` table whose rows sum to ``counts`` and
    columns to ``sizes`` (which must have the same total), and where every cell is the
    floor or the ceiling of its proportional share ``counts[c] * sizes[s] / n``, so every
    class is represented in every group within one sample of its expected count. Such a
    rounding always exists (controlled rounding); it is found with a small max-flow.
    """
    counts = np.asarray(counts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    n = int(counts.sum())
    if int(sizes.sum()) != n:
        raise ValueError(f"sizes sum to {int(sizes.sum())}, counts to {n}")
    share = counts[:, None] * sizes[None, :]
    table = share // max(n, 1)
    fractional = share % max(n, 1)
    row_left = counts - table.sum(axis=1)
    col_left = sizes - table.sum(axis=0)
    up = np.zeros(table.shape, dtype=bool)  # cells rounded up
    # Greedy pass: round up the largest fractional parts first.
    for flat in np.argsort(-fractional, axis=None, kind="stable"):
        c, s = np.unravel_index(flat, table.shape)
        if fractional[c, s] and row_left[c] and col_left[s]:
            up[c, s] = True
            row_left[c] -= 1
            col_left[s] -= 1
    # Augmenting paths for whatever the greedy pass could not place.
    while row_left.sum():
        # Breadth-first search from every row that still has samples to place.
        roots = [("r", int(c)) for c in np.flatnonzero(row_left)]
        parent: dict[tuple[str, int], tuple[str, int] | None] = dict.fromkeys(roots)
        queue = deque(roots)
        end = None
        while queue and end is None:
            kind, i = queue.popleft()
            if kind == "r":
                for s in np.flatnonzero((fractional[i] > 0) & ~up[i]):
                    node = ("c", int(s))
                    if node not in parent:
                        parent[node] = (kind, i)
                        if col_left[s]:
                            end = node
                            break
                        queue.append(node)
            else:
                for c in np.flatnonzero(up[:, i]):
                    node = ("r", int(c))
                    if node not in parent:
                        parent[node] = (kind, i)
                        queue.append(node)
        if end is None:  # pragma: no cover - impossible by the rounding theorem
            raise RuntimeError("stratified allocation failed")
        node = end
        while parent[node] is not None:
            prev = parent[node]
            if node[0] == "c":  # row prev -> col node: round this cell up
                up[prev[1], node[1]] = True
            else:  # col prev -> row node: undo this cell's rounding up
                up[node[1], prev[1]] = False
            node = prev
        row_left[node[1]] -= 1  # node is now the root row of the path
        col_left[end[1]] -= 1
    return table + up


def _partition(
    y: np.ndarray | None, sizes: list[int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Randomly partition ``range(len)`` into groups of ``sizes``; stratified by ``y``.

    ``y`` is None for a plain shuffle. Each group's indices are returned sorted.
    """
    n = sum(sizes)
    if y is None:
        perm = rng.permutation(n)
        bounds = np.cumsum([0, *sizes])
        return [np.sort(perm[a:b]) for a, b in itertools.pairwise(bounds)]
    classes, counts = np.unique(y, return_counts=True)
    table = round_table(counts, np.array(sizes))
    groups: list[list[np.ndarray]] = [[] for _ in sizes]
    for c, cls in enumerate(classes):
        members = rng.permutation(np.flatnonzero(y == cls))
        bounds = np.cumsum([0, *table[c]])
        for s in range(len(sizes)):
            groups[s].append(members[bounds[s] : bounds[s + 1]])
    return [np.sort(np.concatenate(g)).astype(np.int64) for g in groups]


def make_splits(
    ds: Dataset,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    standardize: bool = True,
    n_train: int | None = None,
    label_noise: float = 0.0,
    input_noise: float = 0.0,
    stratify: bool | None = None,
    standardize_y: bool = False,
) -> Splits:
    """Split ``ds`` into train / val / test, standardise, and optionally corrupt training.

    Args:
        ds: the ``Dataset`` (X ``(n, d)``).
        val_fraction, test_fraction: in ``[0, 1)`` with ``val_fraction + test_fraction < 1``;
            sizes from ``split_sizes`` (``round(n * f)``, at least 1 if ``f > 0``).
            ``val_fraction == 0``: no held-out data, validation equals training (``val``
            IS the ``train`` Split, same fingerprint, ``val_is_train=True``). This is how
            the 4-point ``xor`` is used. ``test_fraction == 0``: ``test`` is ``None``.
        seed: non-negative int; same seed, same bits.
        standardize: z-score X with the training split's raw ``mean`` / ``std`` (ddof 0,
            1.0 for constant columns); exposed as ``scaler_mean`` / ``scaler_std``.
        n_train: subsample the training split to this many samples (stratified by class
            when possible); ``ValueError`` if more than available.
        label_noise: classification: the fraction of training labels changed, exactly
            ``round(label_noise * n_train)`` of them, each to a different class chosen
            uniformly (positions in ``Splits.flipped``); must be in ``[0, 1]``.
            Regression: adds ``N(0, (label_noise * std(y_train))**2)`` to the training
            targets (per target column); any value >= 0.
        input_noise: std of Gaussian noise added to the raw training X (before the
            scaler is fitted, so the scaler sees the noisy data).
        stratify: ``None`` = stratify for classification, plain shuffle for regression.
        standardize_y: regression only: also z-score y with the training statistics
            (``Splits.y_mean`` / ``y_std``; ``Splits.inverse_transform_y`` undoes it).

    Returns:
        ``Splits`` whose ``Split.indices`` are the rows of ``ds`` used by each split.
    """
    if not isinstance(ds, Dataset):
        raise ValueError(f"make_splits needs a Dataset, got {type(ds).__name__}")
    val_fraction = check_float(
        "val_fraction", val_fraction, minimum=0.0, maximum=1.0, max_inclusive=False
    )
    test_fraction = check_float(
        "test_fraction", test_fraction, minimum=0.0, maximum=1.0, max_inclusive=False
    )
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction ({val_fraction}) + test_fraction ({test_fraction}) must be < 1"
        )
    seed = check_seed(seed)
    classification = ds.task == "classification"
    if n_train is not None:
        n_train = check_int("n_train", n_train, minimum=1)
    if classification:
        label_noise = check_float("label_noise", label_noise, minimum=0.0, maximum=1.0)
    else:
        label_noise = check_float("label_noise", label_noise, minimum=0.0)
    input_noise = check_float("input_noise", input_noise, minimum=0.0)
    for name, flag in (("standardize", standardize), ("standardize_y", standardize_y)):
        if not isinstance(flag, bool | np.bool_):  # "no" is truthy: it would standardise
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if stratify is None:
        stratify = classification
    elif not isinstance(stratify, bool | np.bool_):
        raise ValueError(f"stratify must be True, False or None, got {stratify!r}")
    if stratify and not classification:
        raise ValueError(f"stratify=True needs a classification dataset; {ds.name!r} is regression")
    if standardize_y and classification:
        raise ValueError("standardize_y=True is only meaningful for regression")

    n = ds.n_samples
    n_tr, n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    if n_tr < 1:
        raise ValueError(
            f"dataset {ds.name!r} has {n} samples: too few for val_fraction={val_fraction}, "
            f"test_fraction={test_fraction} (val={n_val}, test={n_test}, train={n_tr})"
        )
    rng_split, rng_sub, rng_label, rng_input = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    strat_y = ds.y if stratify else None
    train_idx, val_idx, test_idx = _partition(strat_y, [n_tr, n_val, n_test], rng_split)

    if n_train is not None:
        if n_train > len(train_idx):
            raise ValueError(
                f"n_train={n_train} is larger than the {len(train_idx)} training samples "
                f"available in {ds.name!r} (n={n}, val_fraction={val_fraction}, "
                f"test_fraction={test_fraction})"
            )
        sub_y = ds.y[train_idx] if stratify else None
        keep, _ = _partition(sub_y, [n_train, len(train_idx) - n_train], rng_sub)
        train_idx = train_idx[keep]

    X_train = ds.X[train_idx]
    y_train = ds.y[train_idx]
    flipped = np.zeros(0, dtype=np.int64)
    if label_noise > 0:
        if classification:
            m = round(label_noise * len(y_train))
            flipped = np.sort(rng_label.choice(len(y_train), size=m, replace=False))
            shift = rng_label.integers(1, ds.n_classes, size=m)
            y_train[flipped] = (y_train[flipped] + shift) % ds.n_classes
        else:
            scale = label_noise * y_train.std(axis=0)
            y_train = y_train + rng_label.normal(0.0, 1.0, size=y_train.shape) * scale
    if input_noise > 0:
        X_train = X_train + rng_input.normal(0.0, input_noise, size=X_train.shape)

    d = ds.n_features
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        constant = np.ptp(X_train, axis=0) == 0
        std = np.where(constant | (std == 0), 1.0, std)
    else:
        mean, std = np.zeros(d), np.ones(d)

    y_mean = y_std = None
    if standardize_y:
        y_mean = y_train.mean(axis=0)
        y_std = y_train.std(axis=0)
        y_std = np.where(y_std == 0, 1.0, y_std)

    def make(X: np.ndarray, y: np.ndarray, idx: np.ndarray) -> Split:
        X = (X - mean) / std if standardize else X
        if y_mean is not None:
            y = (y - y_mean) / y_std
        return Split(X=X, y=y, indices=idx)

    train = make(X_train, y_train, train_idx)
    val = train if n_val == 0 else make(ds.X[val_idx], ds.y[val_idx], val_idx)
    test = None if n_test == 0 else make(ds.X[test_idx], ds.y[test_idx], test_idx)
    params = {
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "seed": seed,
        "standardize": bool(standardize),
        "n_train": n_train,
        "label_noise": label_noise,
        "input_noise": input_noise,
        "stratify": bool(stratify),
        "standardize_y": bool(standardize_y),
    }
    return Splits(
        train=train,
        val=val,
        test=test,
        scaler_mean=mean,
        scaler_std=std,
        task=ds.task,
        n_classes=ds.n_classes,
        val_is_train=n_val == 0,
        flipped=flipped,
        y_mean=y_mean,
        y_std=y_std,
        dataset_name=ds.name,
        dataset_digest=ds.digest,
        params=params,
    )
