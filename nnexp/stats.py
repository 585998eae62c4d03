"""Error bars for results over seeds: mean, standard deviation, Student-t interval, paired test.

Why Student t and not a normal interval: a confirm phase runs 5 seeds, not 500. With n = 5 the
normal 95% interval (±1.96 s/√n) is too narrow by 30%: the t quantile with 4 degrees of freedom
is 2.776. Why a *paired* test: every configuration is re-run on the same seeds (initialisation
and shuffling), so the seed-to-seed luck that two configurations share cancels in their
per-seed differences; an unpaired test would count it twice and miss real differences.

The paired t-test assumes the per-seed differences are roughly normal; with 5 seeds there is no
way to check that, which is why the p-value is reported with the interval and the count, never
alone. ``scipy.special`` gives the t distribution (scipy comes with scikit-learn); the tests
check these functions against ``scipy.stats`` and textbook quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

CONFIDENCE = 0.95
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Summary:
    """``n`` values' mean, sample standard deviation (ddof=1) and two-sided t interval.

    With one value the spread is unknown: ``std`` and the interval are NaN.
    """

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def text(self, digits: int = 4) -> str:
        """``0.0812 ± 0.0031 [0.0774, 0.0850] (n=5)``: mean ± sd, then the interval."""
        if self.n == 0:
            return "- (n=0)"
        if self.n == 1:
            return f"{self.mean:.{digits}g} (n=1)"
        return (
            f"{self.mean:.{digits}g} ± {self.std:.2g} "
            f"[{self.ci_low:.{digits}g}, {self.ci_high:.{digits}g}] (n={self.n})"
        )


@dataclass(frozen=True)
class PairedTest:
    """Paired t-test of ``a - b`` over matched seeds (two-sided)."""

    n: int
    mean_difference: float
    t: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.special import stdtrit

    return float(stdtrit(df, probability))


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, std (ddof=1) and the ``confidence`` Student-t interval of the finite ``values``."""
    finite = [float(v) for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, confidence)
    mean = math.fsum(finite) / n
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan, confidence)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, confidence)


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> PairedTest | None:
    """Two-sided paired t-test of ``a`` against ``b`` (same order = same seed).

    Pairs with a non-finite member are dropped. None with fewer than two pairs. Identical pairs
    (zero spread of the differences) give p = 1 when the mean difference is 0, else p = 0.
    """
    from scipy.special import stdtr

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    diffs = [x - y for x, y in zip(a, b, strict=True) if math.isfinite(x) and math.isfinite(y)]
    n = len(diffs)
    if n < 2:
        return None
    mean = math.fsum(diffs) / n
    std = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    if std == 0.0:
        return PairedTest(
            n, mean, 0.0 if mean == 0 else math.copysign(math.inf, mean), 1.0 if mean == 0 else 0.0
        )
    t = mean / (std / math.sqrt(n))
    p = 2.0 * float(stdtr(n - 1, -abs(t)))
    return PairedTest(n, mean, t, min(1.0, p))
