"""What a run records as command lines, and what ``reproduce`` does with a crafted record.

Command lines (``overrides`` and ``command`` tags) are shell-quoted by :mod:`nnexp.cmdline` and
read back with its exact inverse; a record's ``config.yaml`` and params are read bounded (size,
alias expansion, depth), must be UTF-8, and are never evaluated (``${oc.env:...}`` stays text).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from nnexp.cmdline import command_line, shell_line, split_line
from nnexp.errors import NnexpError
from nnexp.records.record_yaml import MAX_NODES, MAX_RECORD_BYTES, literal, load_record_yaml

# Values Hydra accepts that a shell or a naive split would mangle: a quote, command
# substitution, backticks and globs, spaces, backslashes, unicode, '=' and a newline.
NASTY = [
    "tracking.run_name='it\\'s'",
    'tracking.run_name="$(touch PWNED)"',
    "tracking.run_name='`touch PWNED2`; echo *'",
    "tracking.run_name=a b",
    "tracking.run_name='back\\\\slash \\\\ end'",
    "tracking.run_name='héllo → ✓'",
    "tracking.run_name='k=v=w'",
    "tracking.run_name='two\nlines'",
]


@pytest.mark.parametrize("word", [*NASTY, "", "'", '"', "\\", "$HOME", "a'b\"c"])
def test_shell_line_splits_back_to_the_same_words(word):
    assert split_line(shell_line([word, "seed=1"])) == [word, "seed=1"]


def test_pasted_command_runs_no_substitution(tmp_path):
    """bash reads the recorded line as exactly its words, and runs nothing inside them."""
    line = command_line(NASTY)
    assert line.startswith("python -m nnexp ")
    words = line[len("python -m nnexp ") :]
    script = f'printf "%s\\0" {words}'
    printed = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, check=True
    ).stdout
    assert printed.decode().split("\0")[:-1] == NASTY
    assert list(tmp_path.iterdir()) == []  # no PWNED, no PWNED2


def test_nasty_overrides_round_trip_through_record_and_reproduce(store, capsys, monkeypatch):
    """The overrides tag splits back to the list given; ``reproduce --record`` records it again,
    equal; the command tag is the quoted command line (pasting it runs nothing)."""
    extra = [*NASTY, "tracking.run_name=final"]  # the last one names the run
    argv = ["nnexp", *store.overrides(*extra)]
    monkeypatch.setattr(sys, "argv", argv)
    run_id = store.make_run(*extra)
    client = store.client()
    tags = client.get_run(run_id).data.tags
    assert split_line(tags["overrides"]) == store.overrides(*extra)
    assert tags["command"] == command_line(argv[1:])
    assert split_line(tags["command"])[3:] == argv[1:]

    assert store.command("reproduce", run_id, "--record") == 0
    assert "result: bit-identical" in capsys.readouterr().out
    [copy] = client.search_runs(["1"], filter_string=f"tags.reproduces = '{run_id}'")
    assert copy.data.tags["overrides"] == tags["overrides"]
    assert copy.info.run_name == "final"


def test_old_unquoted_overrides_tag_is_still_reproduced(store, capsys):
    """Records from before the tags were quoted: split at spaces, with a warning."""
    run_id = store.make_run("tracking.run_name='it\\'s'")
    store.client().set_tag(run_id, "overrides", "tracking.run_name='it\\'s'")
    assert store.command("reproduce", run_id) == 0
    captured = capsys.readouterr()
    assert "result: bit-identical" in captured.out
    assert "overrides tag is not shell-quoted" in captured.err


# -- crafted config.yaml artifacts ---------------------------------------------------------------
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(9)
)


def reproduce_line(run_id, store, capsys) -> tuple[int, list[str]]:
    """``python -m nnexp reproduce RUN_ID`` in this process: exit code and stderr lines."""
    from nnexp.cli import main

    code = main(["reproduce", run_id, "--tracking-uri", store.uri])
    return code, capsys.readouterr().err.splitlines()


def craft(store, config: str | bytes) -> str:
    run_id = store.make_run()
    path = store.artifacts / run_id / "artifacts" / "config.yaml"
    if isinstance(config, str):
        config = config.encode()
    path.write_bytes(config)
    return run_id


def test_alias_bomb_is_refused_in_one_line_at_once(store, capsys):
    assert len(ALIAS_BOMB) < 1100  # 9**10 = 3.5e9 nodes once expanded
    run_id = craft(store, ALIAS_BOMB)
    started = time.monotonic()
    code, err = reproduce_line(run_id, store, capsys)
    assert time.monotonic() - started < 10
    assert code == 2
    assert err == [
        f"nnexp: error: the config.yaml artifact of run {run_id} expands to more than "
        f"{MAX_NODES} YAML nodes (aliases counted at their expanded size), the limit for a "
        "record: refused"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"seed: 0\nx: '" + b"a" * MAX_RECORD_BYTES + b"'\n", "is larger than 1000000 bytes"),
        (b"seed: 0\ntracking:\n  run_name: caf\xe9\n", "is not UTF-8 text (byte 0xe9 at offset"),
        (b"a: " + b"[" * 200 + b"]" * 200 + b"\n", "nests deeper than 64 levels"),
        (b"a: &a [1, *a]\n", "holds a YAML alias to its own ancestor"),
        (b"seed: [unclosed\n", "is not valid YAML"),
        (b"- just\n- a list\n", "is not a mapping of config keys"),
    ],
    ids=["too-large", "not-utf8", "too-deep", "recursive-alias", "not-yaml", "not-a-mapping"],
)
def test_crafted_config_artifact_is_one_line_exit_2(store, capsys, content, message):
    run_id = craft(store, content)
    code, err = reproduce_line(run_id, store, capsys)
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"nnexp: error: the config.yaml artifact of run {run_id} {message}")


def test_interpolation_in_a_record_is_text_not_the_environment(store, capsys, monkeypatch):
    """``${oc.env:...}`` in config.yaml is compared as written: the variable is never read."""
    monkeypatch.setenv("NNEXP_TEST_SECRET", "env-value-must-not-appear")
    run_id = store.make_run("tracking.run_name=plain")
    path = store.artifacts / run_id / "artifacts" / "config.yaml"
    text = path.read_text()
    assert "run_name: plain\n" in text
    path.write_text(text.replace("run_name: plain\n", "run_name: ${oc.env:NNEXP_TEST_SECRET}\n"))
    assert store.command("reproduce", run_id) == 1
    out = capsys.readouterr().out
    assert (
        "param tracking.run_name='plain' but config.yaml has "
        "tracking.run_name='${oc.env:NNEXP_TEST_SECRET}'" in out
    )
    assert "env-value-must-not-appear" not in out


def _default_params() -> dict[str, str]:
    """A whole run's params (the default config, as a run logs them): a record has them all."""
    from nnexp.config.compose import compose_config
    from nnexp.config.flatten import flatten_config

    return {k: str(v) for k, v in flatten_config(compose_config()).items()}


def test_interpolation_in_a_param_is_text_not_the_environment(monkeypatch):
    from nnexp.records.rebuild import config_from_params

    monkeypatch.setenv("NNEXP_TEST_SECRET", "env-value-must-not-appear")
    params = _default_params() | {"tracking.experiment_name": "${oc.env:NNEXP_TEST_SECRET}"}
    cfg = config_from_params(params)
    assert cfg.tracking.experiment_name == "${oc.env:NNEXP_TEST_SECRET}"


def test_alias_bomb_in_a_param_is_refused():
    from nnexp.records.rebuild import config_from_params

    bomb = "[" + ", ".join(["&a [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + ["*a"] * 3000) + "]"
    with pytest.raises(NnexpError, match=r"^param model.hidden_sizes of the run expands to more"):
        config_from_params(_default_params() | {"model.hidden_sizes": bomb})


@pytest.mark.parametrize(
    "text", ["a", "${x}", "\\${x}", "a\\\\${x}", "\\\\\\${x}", "${oc.env:HOME}", "back\\slash"]
)
def test_literal_gives_every_string_back_exactly(text):
    from omegaconf import OmegaConf

    assert OmegaConf.create({"k": literal(text)}).k == text


def test_expansion_of_a_small_alias_graph_is_counted_not_refused():
    data = load_record_yaml("a: &a [1, 2]\nb: *a\nc: *a\n", "test")
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
