"""nnexp.stats against scipy.stats and textbook quantiles on fixed inputs."""

import math

import numpy as np
import pytest
import scipy.stats

from nnexp.stats import paired_t_test, summarize, t_quantile

VALUES = [0.0812, 0.0790, 0.0845, 0.0801, 0.0833]


def test_t_quantiles_match_the_textbook_table_and_scipy():
    # two-sided 95% critical values of a printed t table: df=4 2.7764, df=9 2.2622, df=29 2.0452
    for df, table in ((4, 2.7764), (9, 2.2622), (29, 2.0452)):
        assert t_quantile(0.975, df) == pytest.approx(table, abs=5e-5)
        assert t_quantile(0.975, df) == pytest.approx(scipy.stats.t.ppf(0.975, df), rel=1e-12)


def test_summary_matches_numpy_and_scipy_interval():
    s = summarize(VALUES)
    assert s.n == 5
    assert s.mean == pytest.approx(np.mean(VALUES), rel=1e-15)
    assert s.std == pytest.approx(np.std(VALUES, ddof=1), rel=1e-13)
    low, high = scipy.stats.t.interval(
        0.95, df=4, loc=np.mean(VALUES), scale=scipy.stats.sem(VALUES)
    )
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high), rel=1e-12)
    # by hand: mean ± 2.776 * sd / sqrt(5)
    assert s.half_width == pytest.approx(
        scipy.stats.t.ppf(0.975, 4) * s.std / math.sqrt(5), rel=1e-12
    )


def test_summary_of_one_or_no_value_has_no_spread():
    one = summarize([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.std) and math.isnan(one.ci_low)
    assert summarize([]).n == 0
    assert summarize([1.0, math.nan, 3.0]).mean == 2.0  # non-finite values are dropped
    assert summarize([0.1, 0.2, 0.3], confidence=0.99).ci_high == pytest.approx(
        scipy.stats.t.interval(0.99, 2, loc=0.2, scale=scipy.stats.sem([0.1, 0.2, 0.3]))[1]
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (VALUES, [0.0850, 0.0801, 0.0869, 0.0830, 0.0851]),
        ([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.3, 4.2]),
        ([5.0, 3.0, 8.0], [4.0, 3.5, 6.0]),
    ],
)
def test_paired_test_matches_scipy_ttest_rel(a, b):
    ours = paired_t_test(a, b)
    ref = scipy.stats.ttest_rel(a, b)
    assert ours.n == len(a)
    assert ours.t == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.mean_difference == pytest.approx(np.mean(np.subtract(a, b)), rel=1e-12)


def test_paired_test_edge_cases():
    assert paired_t_test([1.0], [2.0]) is None
    same = paired_t_test([1.0, 2.0], [1.0, 2.0])
    assert same.p_value == 1.0 and not same.significant
    shifted = paired_t_test([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])  # every seed better by exactly 1
    assert shifted.p_value == 0.0 and shifted.significant and shifted.t == math.inf
    with pytest.raises(ValueError, match="differ in length: 2 and 3"):
        paired_t_test([1.0, 2.0], [1.0, 2.0, 3.0])
    assert paired_t_test([1.0, math.nan, 3.0, 5.0], [0.5, 1.0, 2.0, 4.0]).n == 3
