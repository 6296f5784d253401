"""Tables of the FSDD sweep (E6) from ``fsdd.json``: mean +- standard deviation over seeds.

For every split, one row per configuration (fixed window lengths, learnable), with test
accuracy and loss, validation accuracy and the learnt window lengths; then the learnable
approach against the best fixed one (chosen on validation accuracy, never on test): the
difference of test accuracy per seed (same seed = same split and initialisation), its mean,
standard deviation and a paired t statistic, to say whether it is within seed noise.

Run: ``python experiments/e6_report.py [results/e6/fsdd.json]`` (prints Markdown).
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


def report(runs: list[dict]) -> str:
    lines = []
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["split"], r["approach"], r["win_length_init"])].append(r)
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
        for (_, approach, init), rs in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2])):
            acc, loss = (
                mean_std([r["test_acc"] for r in rs]),
                mean_std([r["test_loss"] for r in rs]),
            )
            val = mean_std([r["val_acc"] for r in rs])
            if approach == "learnable":
                final = mean_std([r["win_length_final"] for r in rs])
                window = f"{init:g} -> {final[0]:.1f} +- {final[1]:.1f}"
            else:
                window = f"{init:g}"
            lines.append(
                f"| {approach} | {window} | {len(rs)} | {100 * acc[0]:.1f} +- "
                f"{100 * acc[1]:.1f} % | {loss[0]:.3f} +- {loss[1]:.3f} | "
                f"{100 * val[0]:.1f} +- {100 * val[1]:.1f} % |"
            )
        fixed = {k: v for k, v in rows.items() if k[1] == "fixed"}
        learnable = [v for k, v in rows.items() if k[1] == "learnable"]
        if fixed and learnable:
            best_key = max(fixed, key=lambda k: mean_std([r["val_acc"] for r in fixed[k]])[0])
            by_seed = {r["seed"]: r for r in fixed[best_key]}
            diffs = [
                r["test_acc"] - by_seed[r["seed"]]["test_acc"]
                for r in learnable[0]
                if r["seed"] in by_seed
            ]
            if len(diffs) > 1:
                m, s = mean_std(diffs)
                t = m / (s / math.sqrt(len(diffs))) if s > 0 else float("inf")
                limit = t_critical(len(diffs) - 1)
                verdict = "within seed noise" if abs(t) < limit else "beyond seed noise"
                lines += [
                    "",
                    f"Learnable minus the best fixed length by validation "
                    f"({best_key[2]:g}), paired by seed: {100 * m:+.1f} +- {100 * s:.1f} "
                    f"points of test accuracy over {len(diffs)} seeds, t = {t:.2f}: "
                    f"{verdict} (two-sided 5 % level, |t| < {limit}).",
                ]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "results/e6/fsdd.json")
    print(report(json.loads(path.read_text())["runs"]))


if __name__ == "__main__":
    main()
