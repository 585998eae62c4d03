"""CSV loading and its one-line error messages."""

import numpy as np
import pytest

from nnexp.data import load_dataset, make_splits


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path, **kwargs):
    with pytest.raises(ValueError) as info:
        load_dataset("csv", path=str(path), **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_classification_with_string_labels(tmp_path):
    path = _write(tmp_path, "a,b,species\n1,2,setosa\n3,4,virginica\n\n5,6.5,setosa\n")
    ds = load_dataset("csv", path=str(path), target="species", task="classification")
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6.5]])
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    assert ds.class_names == ("setosa", "virginica")
    assert ds.feature_names == ("a", "b")
    assert ds.n_classes == 2 and ds.task == "classification"
    assert ds.source == f"file:{path.resolve()}"
    assert ds.name == "csv"


def test_auto_task_and_numeric_label_order(tmp_path):
    path = _write(tmp_path, "x,label\n0.1,10\n0.2,9\n0.3,10.0\n0.4,2\n")
    ds = load_dataset("csv", path=str(path), target="label")
    assert ds.task == "classification"
    assert ds.class_names == ("2", "9", "10")  # numeric, not string, order
    np.testing.assert_array_equal(ds.y, [2, 1, 2, 0])
    path = _write(tmp_path, "x,y\n1,0.5\n2,1.25\n3,-2\n", "reg.csv")
    ds = load_dataset("csv", path=str(path), target="y")
    assert ds.task == "regression" and ds.n_classes == 0
    np.testing.assert_array_equal(ds.y, [0.5, 1.25, -2.0])
    ds = load_dataset("csv", path=str(path))  # target defaults to the last column
    assert ds.feature_names == ("x",)


def test_features_selection_and_splits(tmp_path):
    rows = "\n".join(f"{i},{i * 2},{i % 2}" for i in range(40))
    path = _write(tmp_path, "a,b,t\n" + rows + "\n")
    ds = load_dataset("csv", path=str(path), target="t", features=["b"])
    assert ds.X.shape == (40, 1)
    s = make_splits(ds, 0.25, 0.25, seed=0)
    assert (s.train.n, s.val.n, s.test.n) == (20, 10, 10)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    assert str(path) in _error(path, target="y")
    assert "file not found" in _error(path, target="y")


def test_missing_path_argument():
    with pytest.raises(ValueError, match="needs path="):
        load_dataset("csv", target="y")


def test_missing_target_lists_columns(tmp_path):
    path = _write(tmp_path, "a,b,c\n1,2,3\n")
    message = _error(path, target="label")
    assert "'label'" in message and "available columns: a, b, c" in message


def test_non_numeric_cell_names_row_line_and_column(tmp_path):
    text = "x1,x2,y\n" + "1,2,0\n" * 6 + "1,abc,1\n"
    message = _error(_write(tmp_path, text), target="y")
    assert "row 7 (line 8 of the file), column 'x2'" in message
    assert "non-numeric value 'abc'" in message


def test_empty_cell_and_nan(tmp_path):
    message = _error(_write(tmp_path, "x1,x2,y\n1,2,0\n,3,1\n"), target="y")
    assert "row 2 (line 3 of the file), column 'x1': empty cell" in message
    message = _error(_write(tmp_path, "x1,x2,y\n1,NaN,0\n4,3,1\n", "nan.csv"), target="y")
    assert "row 1 (line 2 of the file), column 'x2'" in message and "'NaN'" in message
    message = _error(_write(tmp_path, "x1,y\n1,0\n2,\n", "t.csv"), target="y")
    assert "row 2 (line 3 of the file), column 'y': empty target cell" in message
    text = "x,y\n1,1.5\n2,oops\n"
    message = _error(_write(tmp_path, text, "r.csv"), target="y", task="regression")
    assert "row 2 (line 3 of the file), column 'y': non-numeric value 'oops'" in message


def test_blank_lines_shift_line_not_row(tmp_path):
    message = _error(_write(tmp_path, "x,y\n1,0\n\n\nzz,1\n"), target="y")
    assert "row 2 (line 5 of the file), column 'x'" in message


def test_ragged_row(tmp_path):
    message = _error(_write(tmp_path, "a,b,y\n1,2,0\n1,2\n"), target="y")
    assert "row 2 (line 3 of the file) has 2 fields, the header has 3" in message


def test_empty_file_and_header_only(tmp_path):
    path = _write(tmp_path, "")
    assert "empty" in _error(path, target="y") and str(path) in _error(path, target="y")
    message = _error(_write(tmp_path, "a,y\n", "h.csv"), target="y")
    assert "no data rows" in message


def test_single_class(tmp_path):
    message = _error(_write(tmp_path, "a,y\n1,cat\n2,cat\n"), target="y")
    assert "only one class ('cat')" in message


def test_bad_arguments(tmp_path):
    path = _write(tmp_path, "a,y\n1,0\n2,1\n")
    assert "task must be one of" in _error(path, target="y", task="clustering")
    assert "feature column 'zz' not found" in _error(path, target="y", features=["zz"])
    assert "no feature columns" in _error(_write(tmp_path, "y\n1\n", "o.csv"), target="y")
    assert "duplicate column names" in _error(_write(tmp_path, "a,a,y\n1,2,3\n", "d.csv"))
    assert "is a directory" in _error(tmp_path, target="y")
