"""save_model / load_model: bit-exact round trip, corrupt files rejected with clear errors."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from nnexp.nn import MLP, load_model, make_optimizer, save_model


def _trained(dtype=np.float64):
    rng = np.random.default_rng(0)
    model = MLP(
        [3, 7, 4],
        activation="leaky_relu",
        output="softmax",
        dropout=0.25,
        dtype=dtype,
        rng=rng,
        activation_kwargs={"negative_slope": 0.05},
        init="he_uniform",
    )
    opt = make_optimizer("adam", model.params, lr=0.01)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 4, 20)
    for _ in range(5):
        model.loss_and_grads(X, y, rng=rng)
        opt.step(model.grads)
    return model, X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_bit_exact(tmp_path, dtype):
    model, X = _trained(dtype)
    path = tmp_path / "model.weights"  # no .npz suffix appended
    assert save_model(model, path) == path and path.is_file()
    loaded = load_model(path)
    assert loaded.config() == model.config()
    for a, b in zip(model.params, loaded.params, strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert np.array_equal(model.forward(X), loaded.forward(X))
    assert loaded.activation_kwargs == {"negative_slope": 0.05}


def _write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _meta(model):
    return json.dumps(
        {
            "format": "nnexp.mlp",
            "version": 1,
            "config": model.config(),
            "param_names": model.param_names,
            "shapes": [list(p.shape) for p in model.params],
        }
    )


def test_corrupt_files_rejected(tmp_path):
    model, _ = _trained()
    good = tmp_path / "good.npz"
    save_model(model, good)
    raw = good.read_bytes()
    cases = {}
    (tmp_path / "garbage.npz").write_bytes(b"this is not a zip file at all" * 10)
    cases["garbage.npz"] = "corrupt"
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    cases["truncated.npz"] = "corrupt"
    (tmp_path / "empty.npz").write_bytes(b"")
    cases["empty.npz"] = "corrupt"
    # object array (needs pickle)
    _write_npz(
        tmp_path / "object.npz",
        param_0=np.array([{"a": 1}], dtype=object),
        __nnexp_meta__=np.array(_meta(model)),
    )
    cases["object.npz"] = "unsafe"
    # shapes disagree with the metadata
    arrays = {f"param_{i}": p for i, p in enumerate(model.params)}
    arrays["param_2"] = np.zeros((4, 7))
    _write_npz(tmp_path / "shape.npz", __nnexp_meta__=np.array(_meta(model)), **arrays)
    cases["shape.npz"] = r"W2 \(param_2\) has shape \(4, 7\)"
    # missing array
    arrays = {f"param_{i}": p for i, p in enumerate(model.params[:3])}
    _write_npz(tmp_path / "missing.npz", __nnexp_meta__=np.array(_meta(model)), **arrays)
    cases["missing.npz"] = "param_3"
    # no metadata / bad JSON / wrong format / bad config
    _write_npz(tmp_path / "nometa.npz", param_0=np.zeros(3))
    cases["nometa.npz"] = "not an nnexp model"
    _write_npz(tmp_path / "badjson.npz", __nnexp_meta__=np.array("{not json"))
    cases["badjson.npz"] = "not valid JSON"
    _write_npz(tmp_path / "format.npz", __nnexp_meta__=np.array(json.dumps({"format": "x"})))
    cases["format.npz"] = "format"
    meta = json.loads(_meta(model))
    meta["config"]["activation"] = "swish"
    _write_npz(tmp_path / "config.npz", __nnexp_meta__=np.array(json.dumps(meta)))
    cases["config.npz"] = "swish"
    meta = json.loads(_meta(model))
    meta["shapes"][0] = [9, 9]
    arrays = {f"param_{i}": p for i, p in enumerate(model.params)}
    _write_npz(tmp_path / "metashape.npz", __nnexp_meta__=np.array(json.dumps(meta)), **arrays)
    cases["metashape.npz"] = "do not match"
    arrays["param_0"] = arrays["param_0"].astype(np.float32)
    _write_npz(tmp_path / "dtype.npz", __nnexp_meta__=np.array(_meta(model)), **arrays)
    cases["dtype.npz"] = "dtype float32"
    # a zip whose member is corrupted (CRC / bad header)
    buf = bytearray(raw)
    buf[60:80] = b"\x00" * 20
    (tmp_path / "flipped.npz").write_bytes(bytes(buf))
    cases["flipped.npz"] = (
        r"corrupt or truncated file \(BadZipFile: Bad CRC-32 for file 'param_0.npy'\)"
    )
    for name, pattern in cases.items():
        with pytest.raises(ValueError, match=pattern) as e:
            load_model(tmp_path / name)
        assert name in str(e.value), (name, str(e.value))
    with pytest.raises(ValueError, match="no such file"):
        load_model(tmp_path / "absent.npz")


def test_metadata_is_a_unicode_array_and_no_pickle(tmp_path):
    model, _ = _trained()
    save_model(model, tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as z:
        names = set(z.namelist())
        meta = np.load(io.BytesIO(z.read("__nnexp_meta__.npy")), allow_pickle=False)
    assert names == {
        "param_0.npy",
        "param_1.npy",
        "param_2.npy",
        "param_3.npy",
        "__nnexp_meta__.npy",
    }
    assert meta.dtype.kind == "U" and json.loads(str(meta))["config"]["sizes"] == [3, 7, 4]


def test_save_rejects_non_models(tmp_path):
    with pytest.raises(ValueError, match="dict"):
        save_model({"W": 1}, tmp_path / "x.npz")
