"""Save/load an MLP as ``.npz``: the parameter arrays plus JSON architecture metadata.

Layout: ``param_0 .. param_{m-1}`` (W1, b1, [gamma1, beta1,] W2, ...), ``buffer_0 ..``
(BatchNorm's running_mean1, running_var1, ...; none without BatchNorm) and ``__nnexp_meta__``,
a 0-d NumPy unicode array holding JSON ``{"format": "nnexp.mlp", "version": 1,
"config": {...}, "param_names": [...], "shapes": [...], "buffer_names": [...]}``. Files
written before normalisation existed have no ``norm`` in their config and load as ``none``. Unicode arrays need no pickle, so files are loaded
with ``allow_pickle=False`` (a malicious file cannot execute code). The arrays are stored raw,
so a round trip is bit-exact. Any problem (not a zip, truncated, missing/garbled metadata,
object arrays, shapes/dtypes that disagree with the metadata) raises ``ValueError`` naming the
file and the problem.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import _validate as V
from .mlp import MLP

FORMAT = "nnexp.mlp"
VERSION = 1
META_KEY = "__nnexp_meta__"
#: Parameters a file's metadata may claim beyond the arrays it holds (rejected before building).
MAX_UNBACKED_PARAMS = 1_000_000


def save_model(model: MLP, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` exactly (no suffix is appended); atomic replace."""
    if not isinstance(model, MLP):
        raise ValueError(f"save_model expects an MLP, got {type(model).__name__}")
    path = Path(path).expanduser()
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save model to {str(path)!r}: {str(path.parent)!r} is not a directory"
        )
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config(),
        "param_names": list(model.param_names),
        "shapes": [list(p.shape) for p in model.params],
        "buffer_names": list(model.buffer_names),
    }
    arrays = {f"param_{i}": p for i, p in enumerate(model.params)}
    arrays.update({f"buffer_{i}": b for i, b in enumerate(model.buffers)})
    arrays[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # the error would name the temporary file, not the user's path
        raise type(e)(e.errno, f"cannot save model to {str(path)!r}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise type(e)(e.errno, f"cannot save model to {str(path)!r}: {e.strerror}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _parameter_count(sizes, norm) -> int | None:
    """Parameters and buffers of an MLP with layer widths ``sizes`` and normalisation ``norm``,
    or None if they are not widths."""
    if not isinstance(sizes, list) or len(sizes) < 2:
        return None
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
        return None
    per_unit = {"batch": 4, "layer": 2}.get(norm, 0)  # gamma, beta [, running mean, var]
    return sum(d_in * d_out + d_out for d_in, d_out in itertools.pairwise(sizes)) + per_unit * sum(
        sizes[1:-1]
    )


def _fail(path, problem: str):
    return ValueError(f"cannot load model from {str(path)!r}: {problem}")


def load_model(path: str | os.PathLike, rng: np.random.Generator | int | None = None) -> MLP:
    """Rebuild the MLP saved at ``path`` with its exact parameters.

    ``rng`` becomes the model's Generator (used for dropout when none is passed to
    ``loss_and_grads``); default seed 0. The initial weights it draws are overwritten.
    """
    rng = V.seed_or_generator("rng", rng)  # before the file: a bad rng is not the file's fault
    path = Path(path).expanduser()
    if not path.is_file():
        raise _fail(path, "no such file")
    with path.open("rb") as f:
        magic = f.read(6)
    if not magic:
        raise _fail(path, "corrupt or truncated file (empty)")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        # NumPy would read it as a pickle and suggest allow_pickle=True: never the answer here
        raise _fail(
            path,
            f"not an nnexp model file (a .npz archive written by save_model): corrupt or "
            f"unsafe file, it starts with {magic!r}, neither a zip archive nor a NumPy file",
        )
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a bare .npy file, not an archive
            raise _fail(path, f"not an nnexp model file (a single {loaded.dtype} array)")
        with loaded as data:
            files = set(data.files)
            if META_KEY not in files:
                raise _fail(
                    path,
                    f"not an nnexp model file (no {META_KEY!r} entry; "
                    f"entries: {sorted(files)[:10]})",
                )
            meta_arr = data[META_KEY]
            arrays = {k: data[k] for k in files if k != META_KEY}
            # an entry that is not in .npy format comes back as raw bytes
            entries = {META_KEY: meta_arr, **arrays}
            odd = sorted(k for k, v in entries.items() if not isinstance(v, np.ndarray))
            if odd:
                raise _fail(path, f"entries {odd[:10]} are not NumPy arrays")
    except ValueError as e:
        if str(e).startswith("cannot load model"):
            raise
        raise _fail(path, f"corrupt or unsafe file ({e})") from e
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError, MemoryError) as e:
        raise _fail(path, f"corrupt or truncated file ({type(e).__name__}: {e})") from e

    if meta_arr.dtype.kind != "U" or meta_arr.shape != ():
        raise _fail(
            path, f"metadata must be a 0-d unicode array, got {meta_arr.dtype} {meta_arr.shape}"
        )
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as e:
        raise _fail(path, f"metadata is not valid JSON ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"metadata format is not {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise _fail(
            path, f"unsupported format version {meta.get('version')!r} (expected {VERSION})"
        )
    config, shapes = meta.get("config"), meta.get("shapes")
    if not isinstance(config, dict) or not isinstance(shapes, list):
        raise _fail(path, "metadata lacks 'config' or 'shapes'")
    # The network is built (its weights allocated and initialised) before the arrays are checked
    # against it: bound that by what the file holds, or a few bytes of metadata claiming
    # sizes [2, 30000, 30000, 1] would allocate and fill gigabytes.
    claimed = _parameter_count(config.get("sizes"), config.get("norm", "none"))
    stored = sum(a.size for a in arrays.values())
    if claimed is not None and claimed > max(stored, MAX_UNBACKED_PARAMS):
        raise _fail(
            path,
            f"metadata sizes {config['sizes']} imply {claimed} parameters, the file holds {stored}",
        )
    try:
        model = MLP.from_config(config, rng=0 if rng is None else rng)
    except (KeyError, TypeError, ValueError) as e:
        raise _fail(path, f"invalid architecture metadata ({type(e).__name__}: {e})") from e

    expected = [f"param_{i}" for i in range(len(model.params))]
    expected += [f"buffer_{i}" for i in range(len(model.buffers))]
    if sorted(arrays) != sorted(expected):
        raise _fail(path, f"expected arrays {expected}, found {sorted(arrays)}")
    if [list(p.shape) for p in model.params] != shapes:
        raise _fail(
            path,
            f"metadata shapes {shapes} do not match the architecture "
            f"{[list(p.shape) for p in model.params]}",
        )
    for i, (name, p) in enumerate(zip(model.param_names, model.params, strict=True)):
        a = arrays[f"param_{i}"]
        if a.shape != p.shape:
            raise _fail(path, f"{name} (param_{i}) has shape {a.shape}, metadata says {p.shape}")
        if a.dtype != p.dtype:
            raise _fail(path, f"{name} (param_{i}) has dtype {a.dtype}, metadata says {p.dtype}")
        p[...] = a
    for i, (name, b) in enumerate(zip(model.buffer_names, model.buffers, strict=True)):
        a = arrays[f"buffer_{i}"]
        if a.shape != b.shape or a.dtype != b.dtype:
            raise _fail(
                path,
                f"{name} (buffer_{i}) is {a.dtype} {a.shape}, the architecture needs "
                f"{b.dtype} {b.shape}",
            )
        b[...] = a
    return model
