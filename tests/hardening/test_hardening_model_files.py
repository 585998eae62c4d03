"""Crafted model files: rejected by ``load_model`` with a clear ``ValueError``, nothing unpickled.

``tests/nn/test_nn_serialization.py`` covers garbage, truncated, empty and bit-flipped files, an
object-array parameter, wrong and missing arrays, missing/garbled metadata, a bad architecture
and dtypes. Here: proof that no pickle is ever executed (each payload's ``__reduce__`` would
create a marker file), the containers numpy hands back that are not arrays (a bare ``.npy``, a
raw zip entry), metadata of the wrong kind or version, extra arrays, and metadata that claims a
network far larger than the file (built before the arrays were checked, it could take gigabytes:
checked in a subprocess whose address space is capped, so a regression cannot hurt the machine).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnexp.nn import MLP, load_model, save_model


class Payload:
    """Unpickling this object creates ``marker``: the proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _model() -> MLP:
    return MLP([2, 5, 1], activation="tanh", output="sigmoid", loss="bce", rng=0)


def _meta(model: MLP, **change) -> str:
    meta = {
        "format": "nnexp.mlp",
        "version": 1,
        "config": model.config(),
        "param_names": list(model.param_names),
        "shapes": [list(p.shape) for p in model.params],
    }
    meta.update(change)
    return json.dumps(meta)


def _params(model: MLP) -> dict[str, np.ndarray]:
    return {f"param_{i}": p for i, p in enumerate(model.params)}


def _npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def _pickle_files(folder: Path, marker: Path) -> dict[str, str]:
    """Files that carry ``Payload(marker)`` in every place a pickle could hide; -> expected text."""
    model, evil = _model(), Payload(marker)
    cases = {}
    (folder / "raw.pickle").write_bytes(pickle.dumps(evil))
    cases["raw.pickle"] = "corrupt or unsafe file"
    np.save(folder / "object.npy", np.array([evil], dtype=object), allow_pickle=True)
    cases["object.npy"] = "corrupt or unsafe file"
    with open(folder / "object-param.npz", "wb") as handle:
        np.savez(
            handle,
            **_params(model) | {"param_0": np.array([evil], dtype=object)},
            __nnexp_meta__=np.array(_meta(model)),
        )
    cases["object-param.npz"] = "corrupt or unsafe file"
    meta = np.empty((), dtype=object)
    meta[()] = evil
    _npz(folder / "object-meta.npz", __nnexp_meta__=meta, **_params(model))
    cases["object-meta.npz"] = "corrupt or unsafe file"
    good = save_model(model, folder / "good.npz")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(folder / "raw-entry.npz", "w") as out:
        for name in source.namelist():
            data = pickle.dumps(evil) if name == "param_0.npy" else source.read(name)
            out.writestr(name, data)
    cases["raw-entry.npz"] = "entries ['param_0'] are not NumPy arrays"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(folder / "raw-meta.npz", "w") as out:
        for name in source.namelist():
            data = pickle.dumps(evil) if name == "__nnexp_meta__.npy" else source.read(name)
            out.writestr(name, data)
    cases["raw-meta.npz"] = "are not NumPy arrays"
    return cases


def test_pickles_anywhere_in_the_file_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    cases = _pickle_files(tmp_path, marker)
    assert len(cases) == 6
    pickle.loads(pickle.dumps(Payload(marker)))  # the payload works ...
    assert marker.exists()
    marker.unlink()
    for name, expected in cases.items():
        with pytest.raises(ValueError, match="cannot load model from") as error:
            load_model(tmp_path / name)
        assert name in str(error.value) and expected in str(error.value), (name, error.value)
        assert not marker.exists(), f"{name}: a pickle was executed"  # ... but never runs here


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bare-array.npy", "not an nnexp model file (a single float64 array)"),
        ("meta-not-0d.npz", "metadata must be a 0-d unicode array"),
        ("meta-numbers.npz", "metadata must be a 0-d unicode array"),
        ("meta-no-config.npz", "metadata lacks 'config' or 'shapes'"),
        ("meta-version.npz", "unsupported format version 99"),
        ("meta-list.npz", "metadata format is not 'nnexp.mlp'"),
        ("extra-array.npz", "expected arrays"),
        ("nan-sizes.npz", "invalid architecture metadata"),
        ("directory.npz", "no such file"),
    ],
)
def test_odd_containers_and_metadata_are_rejected(tmp_path: Path, name: str, expected: str) -> None:
    model = _model()
    path = tmp_path / name
    if name == "bare-array.npy":
        np.save(path, np.zeros(3))
    elif name == "meta-not-0d.npz":
        _npz(path, __nnexp_meta__=np.array([_meta(model)]), **_params(model))
    elif name == "meta-numbers.npz":
        _npz(path, __nnexp_meta__=np.array(3.0), **_params(model))
    elif name == "meta-no-config.npz":
        _npz(path, __nnexp_meta__=np.array(_meta(model, config=None)), **_params(model))
    elif name == "meta-version.npz":
        _npz(path, __nnexp_meta__=np.array(_meta(model, version=99)), **_params(model))
    elif name == "meta-list.npz":
        _npz(path, __nnexp_meta__=np.array(json.dumps([1, 2])), **_params(model))
    elif name == "extra-array.npz":
        arrays = _params(model) | {"param_9": np.zeros(2)}
        _npz(path, __nnexp_meta__=np.array(_meta(model)), **arrays)
    elif name == "nan-sizes.npz":
        config = model.config() | {"sizes": [2, "NaN", 1]}
        _npz(path, __nnexp_meta__=np.array(_meta(model, config=config)), **_params(model))
    elif name == "directory.npz":
        path.mkdir()
    with pytest.raises(ValueError, match="cannot load model from") as error:
        load_model(path)
    assert expected in str(error.value), error.value


CAPPED = textwrap.dedent(
    """
    import resource, sys
    cap = 1 << 30  # 1 GiB of address space: a regression fails with MemoryError, harmlessly
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from nnexp.nn import load_model
    try:
        load_model(sys.argv[1])
    except ValueError as error:
        print("rejected:", error)
    """
)


def _load_capped(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", CAPPED, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_metadata_claiming_a_huge_network_is_rejected_before_allocating(tmp_path: Path) -> None:
    """A few bytes of metadata (sizes [2, 30000, 30000, 1]: 900 million parameters, 7 GB) used
    to be built, weights allocated and initialised, before the arrays were compared with it."""
    model = _model()
    config = model.config() | {"sizes": [2, 30000, 30000, 1]}
    path = _npz(
        tmp_path / "huge.npz",
        __nnexp_meta__=np.array(_meta(model, config=config)),
        **_params(model),
    )
    assert path.stat().st_size < 10_000
    done = _load_capped(path)
    assert done.returncode == 0, done.stderr
    assert "rejected:" in done.stdout and "imply 900150001 parameters" in done.stdout, done.stdout


def test_an_entry_header_claiming_a_huge_array_is_rejected(tmp_path: Path) -> None:
    """An .npy header inside the archive claiming 10**12 float64s over a few bytes of data."""
    model = _model()
    good = save_model(model, tmp_path / "good.npz")
    header = np.lib.format
    buffer = io.BytesIO()
    header.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    buffer.write(b"\0" * 64)
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(tmp_path / "huge.npz", "w") as out:
        for name in source.namelist():
            out.writestr(name, buffer.getvalue() if name == "param_0.npy" else source.read(name))
    done = _load_capped(tmp_path / "huge.npz")
    assert done.returncode == 0, done.stderr
    assert "rejected:" in done.stdout and "huge.npz" in done.stdout, done.stdout
