"""``python -m nnexp compare``: one PNG of overlaid curves, and the params that differ."""

from __future__ import annotations

import struct

import pytest

from nnexp.errors import NnexpError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(shared_store):
    """Two classification runs that differ in lr only."""
    return [
        shared_store.make_run("optimizer.lr=0.003"),
        shared_store.make_run("optimizer.lr=0.1"),
    ]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_compare_writes_a_png_and_prints_what_differs(shared_store, runs, tmp_path, capsys):
    output = tmp_path / "out" / "both.png"
    assert shared_store.command("compare", *runs, "--output", str(output)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"learning curves: {output}"
    width, height = png_size(output)
    assert width > 800 and height > 300  # loss and accuracy panels side by side
    assert out[1] == "params that differ (1), then results:"
    assert out[2].split() == [run[:8] for run in runs]
    assert out[3].split() == ["optimizer.lr", "0.003", "0.1"]
    assert [line.split()[0] for line in out[4:]] == [
        "final_train_loss",
        "final_val_loss",
        "best_val_loss",
        "diagnosis",
        "store:",
    ]
    assert out[-1] == f"store: {shared_store.uri}"
    assert "model.activation" not in "\n".join(out)


def test_default_output_is_under_mlruns_in_the_working_directory(
    shared_store, runs, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert shared_store.command("compare", runs[0][:8], runs[1][:10]) == 0
    expected = f"mlruns/compare-{runs[0][:8]}-{runs[1][:8]}.png"
    assert capsys.readouterr().out.splitlines()[0] == f"learning curves: {expected}"
    assert png_size(tmp_path / expected)[0] > 0


def test_regression_runs_get_an_r2_panel_and_one_colour_each(shared_store, tmp_path):
    from nnexp.commands.common import open_reader
    from nnexp.commands.compare import read_curves
    from nnexp.commands.curves import plot_runs

    run_id = shared_store.make_run("data=sine")
    reader = open_reader(shared_store.uri)
    curves = read_curves(reader, reader.get_run(run_id))
    assert set(curves.series) == {"train_loss", "val_loss", "train_r2", "val_r2"}
    assert [step for step, _ in curves.series["val_loss"]] == list(range(1, 7))
    path = plot_runs([curves], tmp_path / "r2.png", "one run")
    assert png_size(path)[0] > 800


def test_unknown_or_repeated_ids_are_one_line_errors(shared_store, runs):
    with pytest.raises(NnexpError) as error:
        shared_store.command("compare", runs[0], "0123456789abcdef")
    assert str(error.value) == (
        f"no run with id '0123456789abcdef' in the MLflow store {shared_store.uri}"
    )
    with pytest.raises(NnexpError, match="is given twice"):
        shared_store.command("compare", runs[0], runs[0][:8])
    with pytest.raises(NnexpError, match="the following arguments are required: RUN_ID"):
        shared_store.command("compare")


def test_one_colour_per_run_train_dashed_validation_solid(shared_store, runs):
    """What the PNG shows, read from the figure it is drawn from."""
    from nnexp.commands.common import open_reader
    from nnexp.commands.compare import read_curves
    from nnexp.commands.curves import runs_figure

    reader = open_reader(shared_store.uri)
    curves = [read_curves(reader, reader.get_run(run_id)) for run_id in runs]
    fig = runs_figure(curves, "two runs")
    ax_loss, ax_accuracy = fig.axes
    assert (ax_loss.get_ylabel(), ax_accuracy.get_ylabel()) == ("loss", "accuracy")
    for ax, key in ((ax_loss, "loss"), (ax_accuracy, "accuracy")):
        lines = ax.get_lines()
        assert len(lines) == 4  # two runs x (train, validation), in that order
        colours = []
        for index, run_curves in enumerate(curves):
            train, val = lines[2 * index], lines[2 * index + 1]
            assert (train.get_linestyle(), val.get_linestyle()) == ("--", "-")
            assert train.get_color() == val.get_color()  # one colour per run
            colours.append(train.get_color())
            for line, part in ((train, "train"), (val, "val")):
                steps, values = zip(*run_curves.series[f"{part}_{key}"], strict=True)
                assert list(line.get_xdata()) == list(steps) == list(range(1, 7))
                assert list(line.get_ydata()) == list(values)
        assert colours[0] != colours[1]
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend == [c.label for c in curves] + ["train", "validation"]
