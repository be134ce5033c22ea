#!/usr/bin/env python3
"""What a power calculation would make of the self-check's sample sizes.

Every claim decided exactly is still sampled (131 072 draws, 1024 per batch
of 128) so that each exact moment is compared with its estimate: the
self-check. Issue 14 asks whether a power calculation could choose fewer
draws, enough to catch a disagreement of one resolution. This reads an
audit's JSON (`initaudit --format json audit FILES > audit.json`), where
every self-checked side carries its sampled standard error at the draws it
took, and computes for each claim the draws a check needs to flag a
disagreement of `resolution` times the moment at the run's critical value
(power one half at exactly that size; more power needs more draws):

    n = draws * (critical * se / (resolution * |value|))^2

over both sides (they share their draws), and reports how many claims
would take fewer draws than now and what fraction of all draws that saves.

Usage: python3 bench/power_selfcheck.py audit.json [critical] [resolution]
(defaults 6.6, the audit's two-sided t at a per-test level of about 7e-10,
and 0.005, the default resolution).
"""

import json
import statistics
import sys

# The fewest draws a look may take: 16 per batch of 128 (verdict.rs MIN_PILOT).
FLOOR = 16 * 128
# The most one sampled test may take (Settings::max_samples by default).
CAP = 1 << 26


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    critical = float(sys.argv[2]) if len(sys.argv) > 2 else 6.6
    resolution = float(sys.argv[3]) if len(sys.argv) > 3 else 0.005
    results = json.load(open(sys.argv[1]))["results"]
    total = saved = claims = fewer = powered = over_cap = 0
    per_moment = []
    for r in results:
        n = r.get("draws") or 0
        if n == 0:
            continue
        needs = []
        for side in ("lhs", "rhs"):
            s = r.get(side) or {}
            sampled = s.get("sampled") or {}
            se, value = sampled.get("se"), s.get("value")
            if s.get("err") is None or se is None or not value:
                continue  # not exact, or nothing to scale a disagreement by
            needs.append(n * (critical * abs(se / value) / resolution) ** 2)
        claims += 1
        total += n
        per_moment += needs
        need = max(needs) if needs else n
        powered += min(max(need, FLOOR), CAP)
        over_cap += need > CAP
        if needs and max(needs) < n:
            fewer += 1
            saved += n - max(max(needs), FLOOR)
    if not claims:
        print("no sampled claims in", sys.argv[1])
        return
    print(f"{claims} sampled claims, {len(per_moment)} exact sides self-checked")
    print(
        f"draws a check at {resolution:.2%} needs (critical {critical}): median "
        f"{statistics.median(per_moment):.3g}; per claim, capped at {CAP}, "
        f"{powered:.3g} in all against {total:.3g} taken now ({powered / total:.0f}x); "
        f"{over_cap} claims over the cap"
    )
    print(
        f"claims that would take fewer draws: {fewer} of {claims}, "
        f"saving {saved / total:.1%} of all draws"
    )


main()
