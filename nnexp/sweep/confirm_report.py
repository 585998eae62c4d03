"""What the confirm phase found: per configuration mean ± sd and a 95% t interval over seeds, the
winner by mean, and paired t-tests of the winner against the runner-up and the base config.

Read from the confirm study (:mod:`nnexp.sweep.confirm`): each finished job holds its metrics
(the sweep's metric and every ``test_*``) as a user attribute, so the report needs no MLflow.
The comparison is paired by seed: every configuration ran on the same seeds.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from nnexp.stats import CONFIDENCE, SIGNIFICANCE, paired_t_test, summarize
from nnexp.sweep.confirm import BASE_LABEL, JOB_ATTR, PLAN_ATTR, RESULT_ATTR
from nnexp.sweep.report import format_value


def confirm_report(confirm: Any) -> dict[str, Any] | None:
    """The report as plain data (JSON-able), or None if no plan was decided."""
    from optuna.trial import TrialState

    from nnexp.sweep.attrs import REPLACED_ATTR

    decided = confirm.user_attrs.get(PLAN_ATTR)
    if decided is None:
        return None
    metric, direction, seeds = decided["metric"], decided["direction"], decided["seeds"]
    by_config: dict[int, dict[int, dict[str, float]]] = {}
    for trial in confirm.get_trials(deepcopy=False):
        if trial.user_attrs.get(REPLACED_ATTR) or trial.state == TrialState.WAITING:
            continue
        job = trial.user_attrs.get(JOB_ATTR)
        results = trial.user_attrs.get(RESULT_ATTR)
        if job is None or results is None:
            continue
        metrics = {k: v for k, v in results.items() if k != "run_id"}
        by_config.setdefault(int(job["config"]), {})[int(job["seed"])] = metrics
    metric_names = sorted(
        {k for runs in by_config.values() for r in runs.values() for k in r},
        key=lambda k: (k != metric, k),
    )
    rows = []
    for index, config in enumerate(decided["configs"]):
        runs = by_config.get(index, {})
        per_seed = {
            name: [runs.get(seed, {}).get(name, math.nan) for seed in seeds]
            for name in metric_names
        }
        rows.append(
            {
                "label": config["label"],
                "trial": config["trial"],
                "params": config["params"],
                "overrides": [],  # filled in by the caller, which has the command line
                "search_value": config["search_value"],
                "values": per_seed.get(metric, [math.nan] * len(seeds)),
                "per_seed": per_seed,
                "stats": {name: summarize(v).as_dict() for name, v in per_seed.items()},
            }
        )
    sign = 1.0 if direction == "minimize" else -1.0

    def mean_of(row: dict[str, Any]) -> float:
        mean = row["stats"].get(metric, {}).get("mean", math.nan)
        return sign * mean if math.isfinite(mean) else math.inf

    candidates = sorted(
        (r for r in rows if r["trial"] is not None and math.isfinite(mean_of(r))), key=mean_of
    )
    report: dict[str, Any] = {
        "phase": confirm.study_name,  # which confirm phase: the parent shows the latest
        "metric": metric,
        "direction": direction,
        "seeds": seeds,
        "confidence": CONFIDENCE,
        "test": "paired t-test (two-sided) over the same seeds",
        "significance": SIGNIFICANCE,
        "configs": rows,
        "winner": None,
        "comparisons": [],
    }
    if not candidates:
        return report
    winner = candidates[0]
    report["winner"] = winner["label"]
    others = [("runner-up", candidates[1])] if len(candidates) > 1 else []
    others += [("base", r) for r in rows if r["label"] == BASE_LABEL]
    for role, other in others:
        test = paired_t_test(winner["values"], other["values"])
        report["comparisons"].append(
            {"against": other["label"], "role": role, **(test.as_dict() if test else {})}
        )
    return report


def format_report(report: dict[str, Any]) -> str:
    """The console table printed after a sweep's summary."""
    metric, seeds = report["metric"], report["seeds"]
    lines = [
        f"confirmed over {len(seeds)} seeds{_used_seeds(report)}: {metric} mean ± sd "
        "[95% CI, Student t] (test metrics likewise)"
    ]
    tests = (
        [m for m in report["configs"][0]["stats"] if m.startswith("test_") and m != metric]
        if report["configs"]
        else []
    )
    header = ["config", "search", metric, *tests[:2], "params"]
    table = [header]
    for row in display_order(report):
        stats = row["stats"]
        params = (
            " ".join(f"{k}={format_value(v)}" for k, v in row["params"].items()) or "(base config)"
        )
        table.append(
            [
                row["label"] + (" *" if row["label"] == report["winner"] else ""),
                format_value(row["search_value"]),
                _stat_text(stats.get(metric), len(seeds)),
                *[_stat_text(stats.get(t), len(seeds)) for t in tests[:2]],
                params,
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        lines.append(
            "  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        )
    if report["winner"] is None:
        lines.append("  no configuration finished a confirm run")
        return "\n".join(lines)
    lines.append(
        f"  winner by mean {metric} among the searched configurations: {report['winner']} (*)"
        + _base_better_note(report)
    )
    for comp in report["comparisons"]:
        if "p_value" not in comp:
            lines.append(f"  vs {opponent(comp)}: too few paired seeds to test")
            continue
        verdict = "significant" if comp["p_value"] < report["significance"] else "not significant"
        lines.append(
            f"  vs {opponent(comp)}: mean difference "
            f"{comp['mean_difference']:+.4g}, paired t-test p = {comp['p_value']:.3g} "
            f"({verdict} at {report['significance']}, n={comp['n']})"
        )
    return "\n".join(lines)


def opponent(comparison: dict[str, Any]) -> str:
    """Whom the winner is tested against: ``the base config`` or ``the runner-up c2``."""
    if comparison["role"] == "base":
        return "the base config"
    return f"the {comparison['role']} {comparison['against']}"


def _base_better_note(report: dict[str, Any]) -> str:
    """``; the base config's mean (M) is better: ...`` when the reference beats the winner.

    The winner is chosen among the searched configurations only, so without this the line
    would name a winner that the base config's row just below it beats.
    """
    means = {
        row["label"]: row["stats"].get(report["metric"], {}).get("mean", math.nan)
        for row in report["configs"]
    }
    base, winner = means.get(BASE_LABEL, math.nan), means.get(report["winner"], math.nan)
    if not (math.isfinite(base) and math.isfinite(winner)):
        return ""
    better = base < winner if report["direction"] == "minimize" else base > winner
    if not better:
        return ""
    return f"; the base config's mean ({base:.4g}) is better: the search did not beat it"


def display_order(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Confirmed configurations best mean first, the base config last."""
    sign = 1.0 if report["direction"] == "minimize" else -1.0

    def key(row: dict[str, Any]) -> tuple[int, float]:
        mean = row["stats"].get(report["metric"], {}).get("mean", math.nan)
        return (row["trial"] is None, sign * mean if math.isfinite(mean) else math.inf)

    return sorted(report["configs"], key=key)


def write_report_csv(report: dict[str, Any], path: Path) -> Path:
    """One row per configuration and metric: n, mean, std, CI, the search value, each seed."""
    seeds = report["seeds"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["config", "trial", "metric", "search_value", "n", "mean", "std", "ci_low", "ci_high"]
            + [f"seed_{s}" for s in seeds]
            + ["winner", "overrides"]
        )
        for row in report["configs"]:
            for name, stats in row["stats"].items():
                writer.writerow(
                    [row["label"], "" if row["trial"] is None else row["trial"], name]
                    + [_csv(row["search_value"] if name == report["metric"] else None)]
                    + [_csv(stats[k]) for k in ("n", "mean", "std", "ci_low", "ci_high")]
                    + [_csv(v) for v in row["per_seed"][name]]
                    + [row["label"] == report["winner"], " ".join(row["overrides"])]
                )
    return path


def draw_report(report: dict[str, Any], path: Path) -> Path:
    """Per configuration: each seed's value (dots), the mean and its 95% interval (bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = report["metric"]
    rows = report["configs"]
    with plt.style.context("default"):
        fig, ax = plt.subplots(figsize=(1.6 + 1.2 * max(1, len(rows)), 4.0), dpi=100)
        for x, row in enumerate(rows):
            values = [v for v in row["values"] if math.isfinite(v)]
            ax.scatter([x] * len(values), values, s=18, alpha=0.6, color="tab:blue", zorder=2)
            stats = row["stats"].get(metric, {})
            if stats.get("n", 0) >= 2:
                mean = stats["mean"]
                ax.errorbar(
                    [x + 0.15],
                    [mean],
                    yerr=[[mean - stats["ci_low"]], [stats["ci_high"] - mean]],
                    fmt="o",
                    color="black" if row["label"] != report["winner"] else "tab:red",
                    capsize=4,
                    zorder=3,
                )
        ax.set_xticks(range(len(rows)), [r["label"] for r in rows], rotation=20)
        ax.set_ylabel(metric)
        ax.set_title(
            f"confirm: {metric} over {len(report['seeds'])} seeds (mean, 95% t interval)",
            fontsize=10,
        )
        ax.grid(axis="y", alpha=0.3)
        fig.subplots_adjust(left=0.16, right=0.97, bottom=0.2, top=0.9)
        fig.savefig(path)
        plt.close(fig)
    return path


def _used_seeds(report: dict[str, Any]) -> str:
    """``""`` when every configuration has the metric on every seed, else the count the rows
    use: ``" (2 with a best_val_loss: the others diverged or failed)"``."""
    counts = sorted(
        {int(row["stats"].get(report["metric"], {}).get("n", 0)) for row in report["configs"]}
    )
    if not counts or counts == [len(report["seeds"])]:
        return ""
    used = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f" ({used} with a {report['metric']}: the others diverged or failed)"


def _stat_text(stats: dict[str, float] | None, seeds: int | None = None) -> str:
    """``mean ± sd [CI]``, with ``(n=K)`` when fewer than the ``seeds`` run have the value."""
    if not stats or not stats.get("n"):
        return "-"
    if stats["n"] == 1:
        return f"{stats['mean']:.4g} (n=1)"
    count = f" (n={stats['n']})" if seeds is not None and stats["n"] < seeds else ""
    return (
        f"{stats['mean']:.4g} ± {stats['std']:.2g} [{stats['ci_low']:.4g}, {stats['ci_high']:.4g}]"
        + count
    )


def _csv(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)
