"""The command-line words refused before Hydra runs (``nnexp.override_check``), in process.

The subprocess cases (one line, exit 2, untouched store) are in
``tests/hardening/test_hardening_bad_inputs.py``; here, what must still pass.
"""

from __future__ import annotations

import pytest

from nnexp.errors import ConfigError
from nnexp.override_check import check_overrides


@pytest.mark.parametrize(
    "words",
    [
        ["seed=range(3)", "optimizer.lr=0.1,0.2"],
        ["seed=range(3,0,-1)"],
        ["optimizer=glob(adam*)", "model=choice(mlp,tiny)"],
        ["~model"],  # a config group's default: Hydra's business
        ["+sweep=lr", "~sweep.space.lr"],  # an entry of an open dictionary
        ["hydra/sweeper=other", "optimizer.lr=interval(0.01,0.1)"],  # another sweeper's grammar
        ["optimizer.lr=0.1=x"],  # Hydra's grammar error is Hydra's to report
    ],
)
def test_what_a_multirun_may_say_passes(words: list[str]) -> None:
    check_overrides(words, multirun=True)


@pytest.mark.parametrize(
    ("words", "multirun", "error"),
    [
        (["optimizer.lr=interval(0.01,0.1)"], True, "optimizer.lr=interval(0.01,0.1): -m cannot"),
        (["seed=range(3,1)"], True, "seed=range(3,1) is empty"),
        (["seed=range(0,3,-1)"], True, "seed=range(0,3,-1) is empty"),
        (["~seed"], False, "~seed: 'seed' cannot be deleted"),
        (["~optimizer.lr"], False, "~optimizer.lr: 'optimizer.lr' cannot be deleted"),
    ],
)
def test_what_hydra_misreports_is_refused(words: list[str], multirun: bool, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_overrides(words, multirun=multirun)
    assert str(raised.value).startswith(error), raised.value


def test_without_multirun_a_sweep_is_left_to_hydra() -> None:
    """Hydra's "requires --multirun" is right when -m is missing."""
    check_overrides(["seed=range(3,1)", "optimizer.lr=interval(0.01,0.1)"], multirun=False)
