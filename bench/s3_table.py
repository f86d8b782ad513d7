#!/usr/bin/env python3
"""Turns the JSON lines of one bench/run_s3.sh run into Markdown tables with
the ratios the S3 benchmark is judged by (docs/BENCHMARKS.md)."""
import json
import sys

# Targets from the benchmark issue: (size, op, metric, baseline, minimum ratio).
TARGETS = [
    ("64MiB", "get", "mib_per_s", "nginx", 0.8),
    ("4KiB", "get", "ops_per_s", "nginx", 0.5),
    ("64MiB", "put", "mib_per_s", "raw", 0.6),
]
# "Far ahead of moto" made concrete: at least this many times moto's figure.
MOTO_FACTOR = 5.0

SIZE_ORDER = {"4KiB": 0, "1MiB": 1, "64MiB": 2}


def load(path):
    """Best run (highest ops/s) per (system, op, size, concurrency): the machine
    is shared, so interference only ever lowers a figure; every system gets
    the same number of tries."""
    runs = {}
    tries = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            mode = "put" if r["mode"] == "raw-write" else r["mode"]
            key = (r["label"], mode, r["size_label"], r["concurrency"])
            tries.setdefault(key, []).append(r["ops_per_s"])
            if key not in runs or r["ops_per_s"] > runs[key]["ops_per_s"]:
                runs[key] = r
    return runs, tries


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}×"


def figure(runs, label, op, size, conc, metric):
    r = runs.get((label, op, size, conc))
    if r is None or r.get("ops", 0) == 0:
        return None
    return r[metric]


def main():
    runs, tries = load(sys.argv[1])
    sizes = sorted({k[2] for k in runs}, key=lambda s: SIZE_ORDER.get(s, 99))
    concs = sorted({k[3] for k in runs if k[0] == "sluice" and k[1] in ("get", "put")})
    out = []
    for op, base in (("get", "nginx"), ("put", "raw")):
        out.append(f"\n### {op.upper()}: sluice vs {base} (ceiling) and moto (peer)\n")
        out.append(f"| size | conc | sluice MiB/s | sluice ops/s | p50 ms | p99 ms | {base} MiB/s | {base} ops/s "
                   f"| {base} p50 ms | **sluice/{base}** | moto MiB/s | moto p50 ms | **sluice/moto** | errors |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            for c in concs:
                s = runs.get(("sluice", op, size, c))
                b = runs.get((base, op, size, c))
                m = runs.get(("moto", op, size, c))
                if s is None and b is None:
                    continue
                g = lambda r, k: None if r is None else r[k]
                errors = sum(r["errors"] for r in (s, b, m) if r is not None)
                out.append("| " + " | ".join([
                    size, str(c), fmt(g(s, "mib_per_s")), fmt(g(s, "ops_per_s")), fmt(g(s, "p50_ms"), 3),
                    fmt(g(s, "p99_ms"), 3), fmt(g(b, "mib_per_s")), fmt(g(b, "ops_per_s")), fmt(g(b, "p50_ms"), 3),
                    fmt_ratio(ratio(g(s, "ops_per_s"), g(b, "ops_per_s"))), fmt(g(m, "mib_per_s")),
                    fmt(g(m, "p50_ms"), 3), fmt_ratio(ratio(g(s, "ops_per_s"), g(m, "ops_per_s"))), str(errors),
                ]) + " |")
    mixed = sorted((k for k in runs if k[1] == "mixed"), key=lambda k: (SIZE_ORDER.get(k[2], 99), k[0]))
    if mixed:
        out.append("\n### MIXED (70% GET / 30% PUT)\n")
        out.append("| system | size | conc | total MiB/s | total ops/s | GET p50 ms | GET p99 ms | PUT p50 ms "
                   "| PUT p99 ms | errors |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for k in mixed:
            r = runs[k]
            get, put = r.get("get", {}), r.get("put", {})
            out.append("| " + " | ".join([
                k[0], k[2], str(k[3]), fmt(r["mib_per_s"]), fmt(r["ops_per_s"]), fmt(get.get("p50_ms"), 3),
                fmt(get.get("p99_ms"), 3), fmt(put.get("p50_ms"), 3), fmt(put.get("p99_ms"), 3), str(r["errors"]),
            ]) + " |")

    out.append("\n### Targets\n")
    out.append("| target | conc | sluice | baseline | ratio | needed | verdict |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    for size, op, metric, base, need in TARGETS:
        unit = "MiB/s" if metric == "mib_per_s" else "ops/s"
        for c in concs:
            s = figure(runs, "sluice", op, size, c, metric)
            b = figure(runs, base, op, size, c, metric)
            r = ratio(s, b)
            if r is None:
                continue
            out.append(f"| {op.upper()} {size} {unit} vs {base} | {c} | {fmt(s)} | {fmt(b)} | {fmt_ratio(r)} "
                       f"| ≥ {need}× | {'met' if r >= need else '**not met**'} |")
    for key in sorted((k for k in runs if k[0] == "moto"), key=lambda k: (k[1], SIZE_ORDER.get(k[2], 99), k[3])):
        _, op, size, c = key
        s = figure(runs, "sluice", op, size, c, "ops_per_s")
        m = figure(runs, "moto", op, size, c, "ops_per_s")
        r = ratio(s, m)
        if r is None:
            continue
        out.append(f"| {op.upper()} {size} ops/s vs moto | {c} | {fmt(s)} | {fmt(m)} | {fmt_ratio(r)} "
                   f"| ≥ {MOTO_FACTOR:g}× | {'met' if r >= MOTO_FACTOR else '**not met**'} |")
    spread = []
    for key in sorted(tries, key=lambda k: (k[1], SIZE_ORDER.get(k[2], 99), k[3], k[0])):
        t = tries[key]
        if len(t) > 1 and max(t) > 0:
            spread.append(f"{key[0]} {key[1]} {key[2]} c={key[3]}: " + "/".join(f"{v:,.1f}" for v in t))
    if spread:
        out.append("\nEach figure is the best of its tries; ops/s of every try:\n")
        out.extend("- " + s for s in spread)
    print("\n".join(out))


if __name__ == "__main__":
    main()
