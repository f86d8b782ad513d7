#!/usr/bin/env python3
"""Turns the JSON lines of one bench/run_erasure_s3.sh run into a Markdown table:
erasure-coded drives (label "ec") beside one drive ("1drive"), best try of each."""
import json
import sys

# Target from the erasure-coding issue: EC GET of 64 MiB objects at least 70 % of one drive's.
GET_TARGET = 0.7


def main():
    best, tries = {}, {}
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            key = (r["label"], r["mode"], r["size_label"], r["concurrency"])
            tries.setdefault(key, []).append(r["mib_per_s"])
            if key not in best or r["mib_per_s"] > best[key]["mib_per_s"]:
                best[key] = r
    rows = sorted({(k[1], k[2], k[3]) for k in best}, key=lambda k: (k[0] != "get", k[1], k[2]))
    print("| op | size | conc | 1 drive MiB/s | p50 ms | EC MiB/s | p50 ms | **EC / 1 drive** | tries (1 drive; EC) | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for op, size, conc in rows:
        one, ec = best.get(("1drive", op, size, conc)), best.get(("ec", op, size, conc))
        if not one or not ec:
            continue
        ratio = ec["mib_per_s"] / one["mib_per_s"] if one["mib_per_s"] else 0
        mark = ""
        if op == "get" and size == "64MiB":
            mark = " ✓" if ratio >= GET_TARGET else " ✗"
        t1 = ", ".join(f"{v:,.0f}" for v in tries[("1drive", op, size, conc)])
        t2 = ", ".join(f"{v:,.0f}" for v in tries[("ec", op, size, conc)])
        errors = sum(r["errors"] for r in (one, ec))
        print(f"| {op.upper()} | {size} | {conc} | {one['mib_per_s']:,.1f} | {one['p50_ms']:,.1f} | {ec['mib_per_s']:,.1f} "
              f"| {ec['p50_ms']:,.1f} | {ratio:.2f}×{mark} | {t1}; {t2} | {errors} |")
    print(f"\n✓/✗: GET 64 MiB target, EC at least {GET_TARGET:.0%} of one drive's throughput.")


if __name__ == "__main__":
    main()
