"""Tables of the FSDD sweep (E6) from ``fsdd.json``: mean +- standard deviation over seeds.

For every split, one row per configuration (fixed window lengths, learnable, and the
``--beyond`` front ends), with test accuracy and loss, validation accuracy and what was learnt
(window lengths, their range, the hop); then every learnt front end against the best fixed
length (chosen on validation accuracy, never on test) and against the learnable constant
window: the difference of test accuracy per seed (same seed = same split and initialisation),
its mean, standard deviation and a paired t statistic, to say whether it is within seed noise.

Run: ``python experiments/e6_report.py [results/fsdd.json]`` (prints Markdown).
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

# Two-sided 5 % critical values of Student's t, by degrees of freedom.
T_CRITICAL = {
    1: 12.71,
    2: 4.30,
    3: 3.18,
    4: 2.78,
    5: 2.57,
    6: 2.45,
    7: 2.36,
    8: 2.31,
    9: 2.26,
    10: 2.23,
    15: 2.13,
    20: 2.09,
    30: 2.04,
}


def t_critical(df: int) -> float:
    return T_CRITICAL[max(k for k in T_CRITICAL if k <= df)]


def mean_std(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0
    return m, s


def paired(runs: list[dict], baseline: list[dict]) -> str | None:
    """Mean +- std of the per-seed test-accuracy difference, its t statistic and verdict."""
    by_seed = {r["seed"]: r for r in baseline}
    diffs = [r["test_acc"] - by_seed[r["seed"]]["test_acc"] for r in runs if r["seed"] in by_seed]
    if len(diffs) < 2:
        return None
    m, s = mean_std(diffs)
    t = m / (s / math.sqrt(len(diffs))) if s > 0 else float("inf")
    limit = t_critical(len(diffs) - 1)
    verdict = "within seed noise" if abs(t) < limit else "beyond seed noise"
    return (
        f"{100 * m:+.1f} +- {100 * s:.1f} points of test accuracy over {len(diffs)} seeds, "
        f"t = {t:.2f}: {verdict} (two-sided 5 % level, |t| < {limit})"
    )


def window_cell(approach: str, init: float, rs: list[dict]) -> str:
    """The window length column: fixed value, or init -> learnt (mean +- std over seeds)."""
    if approach == "fixed":
        return f"{init:g}"
    final = mean_std([r["win_length_final"] for r in rs])
    cell = f"{init:g} -> {final[0]:.1f} +- {final[1]:.1f}"
    if "win_length_min" in rs[0] and approach in ("time", "frequency"):
        low = mean_std([r["win_length_min"] for r in rs])[0]
        high = mean_std([r["win_length_max"] for r in rs])[0]
        cell += f" (range {low:.1f}-{high:.1f})"
    if "hop_final" in rs[0] and approach == "learnable-hop":
        hop = mean_std([r["hop_final"] for r in rs])
        cell += f", hop -> {hop[0]:.1f} +- {hop[1]:.1f}"
    return cell


def report(runs: list[dict]) -> str:
    """Markdown tables per split, and every learnt front end against the best fixed one.

    Approaches other than ``"fixed"`` (``"learnable"``, and the ``--beyond`` front ends) are
    each compared, paired by seed, with the fixed length of the best validation accuracy and,
    if present, with ``"learnable"`` (the paper's learnable constant window).
    """
    lines = []
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["split"], r["approach"], r["win_length_init"])].append(r)
    order = {"fixed": 0, "learnable": 1}
    for split in ("random", "official"):
        rows = {k: v for k, v in groups.items() if k[0] == split}
        if not rows:
            continue
        lines += [
            f"**{split} split**",
            "",
            "| approach | window length | seeds | test accuracy | test loss | "
            "validation accuracy |",
            "|---|---|---:|---:|---:|---:|",
        ]
        keys = sorted(rows, key=lambda k: (order.get(k[1], 2), k[1], k[2]))
        for key in keys:
            _, approach, init = key
            rs = rows[key]
            acc = mean_std([r["test_acc"] for r in rs])
            loss = mean_std([r["test_loss"] for r in rs])
            val = mean_std([r["val_acc"] for r in rs])
            lines.append(
                f"| {approach} | {window_cell(approach, init, rs)} | {len(rs)} | "
                f"{100 * acc[0]:.1f} +- {100 * acc[1]:.1f} % | {loss[0]:.3f} +- {loss[1]:.3f} | "
                f"{100 * val[0]:.1f} +- {100 * val[1]:.1f} % |"
            )
        fixed = {k: v for k, v in rows.items() if k[1] == "fixed"}
        learnt = [k for k in keys if k[1] != "fixed"]
        best = (
            max(fixed, key=lambda k: mean_std([r["val_acc"] for r in fixed[k]])[0])
            if fixed
            else None
        )
        paper = next((k for k in keys if k[1] == "learnable"), None)
        comparisons = []
        for key in learnt:
            if best is not None and (text := paired(rows[key], fixed[best])):
                comparisons.append(
                    f"- {key[1]} minus the best fixed length by validation ({best[2]:g}), "
                    f"paired by seed: {text}."
                )
            if paper is not None and key != paper and (text := paired(rows[key], rows[paper])):
                comparisons.append(f"- {key[1]} minus learnable, paired by seed: {text}.")
        if comparisons:
            lines += ["", *comparisons]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "results/fsdd.json")
    print(report(json.loads(path.read_text())["runs"]))


if __name__ == "__main__":
    main()
