#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into the side-by-side table.

    summarize.py RESULTS --size S --rounds N --machine TEXT --date TEXT [--out FILE]

RESULTS has one line per run: "ROUND TARGET WORKLOAD key=value ...". Each cell
of the table is the median over the rounds with min-max; the ratio column is
Postern's median over nginx's. Exit status 1 when any run reported errors.
"""

import argparse
import statistics
import sys

TARGETS = ("direct", "nginx", "postern")

# (metric key, label, unit, better: "high"/"low"/None, target ratio or None)
SESSION_METRICS = [
    ("rate", "sessions/s", "high"),
    ("p50_ms", "p50 ms", "low"),
    ("p99_ms", "p99 ms", "low"),
    ("proxy_cpu_per_login_us", "proxy CPU us/login", "low"),
    ("auth_cpu_per_login_us", "auth service CPU us/login", "low"),
    ("total_cpu_per_login_us", "proxy + auth service CPU us/login", "low"),
    ("gen_cpu", "loadgen CPU share", None),
]
FETCH_METRICS = [
    ("mbps", "MB/s", "high"),
    ("proxy_cpu_per_gb", "proxy CPU s/GB", "low"),
    ("gen_cpu", "loadgen CPU share", None),
]
IDLE_METRICS = [
    ("answered", "sessions answering NOOP", "high"),
    ("rss_per_session_kb", "RSS KiB/session", "low"),
    ("rss_kb", "RSS growth KiB", "low"),
    ("rss_total_kb", "RSS total KiB while held", "low"),
    ("rss_total_per_session_kb", "RSS total KiB / session", "low"),
    ("threads_before", "proxy threads before", None),
    ("threads", "proxy threads while held", None),
]

# Targets of issue 6: (workload, metric) -> (comparison, ratio).
TARGET_RATIOS = {
    ("imap_login_c16", "rate"): (">=", 1.0), ("imap_login_c64", "rate"): (">=", 1.0),
    ("imap_login_c16", "p99_ms"): ("<=", 1.0), ("imap_login_c64", "p99_ms"): ("<=", 1.0),
    ("imap_login_c1", "proxy_cpu_per_login_us"): ("<=", 1.0),
    ("imap_login_c16", "proxy_cpu_per_login_us"): ("<=", 1.0),
    ("imap_login_c64", "proxy_cpu_per_login_us"): ("<=", 1.0),
    # Postern with its auth cache answering every login, against nginx's logins.
    ("imap_login_cached_c16", "proxy_cpu_per_login_us"): ("<=", 0.7),
    ("imap_login_cached_c64", "proxy_cpu_per_login_us"): ("<=", 0.7),
    ("smtp_c1", "rate"): (">=", 10.0),
    ("fetch_1", "mbps"): (">=", 1.0), ("fetch_8", "mbps"): (">=", 1.0),
    ("fetch_1", "proxy_cpu_per_gb"): ("<=", 0.6), ("fetch_8", "proxy_cpu_per_gb"): ("<=", 0.6),
    # RSS growth per session flatters a process that kept heap from the workloads
    # before (Postern's did): the target is judged on total RSS while held.
    ("idle_8000", "rss_total_per_session_kb"): ("<=", 1.0),
}


def parse(path):
    runs = {}  # (workload, target) -> list of dicts
    order = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            _, target, workload = parts[:3]
            values = {}
            for kv in parts[3:]:
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    values[k] = v
            if "rss_total_kb" in values and values.get("held", "0") != "0":
                values["rss_total_per_session_kb"] = str(float(values["rss_total_kb"]) / float(values["held"]))
            if "proxy_cpu_per_login_us" in values and "auth_cpu_per_login_us" in values:
                values["total_cpu_per_login_us"] = str(
                    float(values["proxy_cpu_per_login_us"]) + float(values["auth_cpu_per_login_us"]))
            if workload not in order:
                order.append(workload)
            runs.setdefault((workload, target), []).append(values)
    return order, runs


def fmt(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(samples, key):
    """Returns (text, median or None)."""
    if not samples:
        return "-", None
    if any("unsupported" in s for s in samples):
        return "not supported by this build", None
    if any(s.get("errors", "0") != "0" for s in samples):
        failed = sum(1 for s in samples if s.get("errors", "0") != "0")
        return f"ERROR ({failed} run(s))", None
    vals = [float(s[key]) for s in samples if key in s]
    if not vals:
        return "-", None
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med), med
    return f"{fmt(med)} ({fmt(min(vals))}-{fmt(max(vals))})", med


def metrics_for(workload):
    if workload.startswith("fetch_"):
        return FETCH_METRICS
    if workload.startswith("idle_"):
        return IDLE_METRICS
    return SESSION_METRICS


def title(workload):
    name, _, arg = workload.rpartition("_")
    return {
        "imap_login": f"IMAP LOGIN/LOGOUT {arg}",
        "imap_login_cached": f"IMAP LOGIN/LOGOUT {arg}, Postern auth cache hits (nginx: no cache)",
        "imap_login_cachemiss": f"IMAP LOGIN/LOGOUT {arg}, Postern auth cache misses (Postern only)",
        "pop3_login": f"POP3 USER/PASS/QUIT {arg}",
        "smtp": f"SMTP EHLO..DATA 10KB..QUIT {arg}",
        "fetch": f"FETCH relay, {arg} stream(s)",
        "idle": f"idle IMAP sessions, {arg}",
    }.get(name, workload)


# Issue 5: a hit must cost less than the auth_http round trip it replaces.
# (mode, metric) -> (comparison, ratio to Postern with the cache off).
CACHE_TARGETS = {
    ("hit", "rate"): (">=", 1.0),
    ("hit", "total_cpu_per_login_us"): ("<", 1.0),
}
CACHE_MODES = [("off", "imap_login_c"), ("hit", "imap_login_cached_c"), ("miss", "imap_login_cachemiss_c")]


def auth_cache_table(order, runs):
    """Postern against itself: auth cache off, every login a hit, every login a miss."""
    lines, checks = [], []
    concs = [w.rpartition("_c")[2] for w in order if w.startswith("imap_login_cached_c")]
    metrics = [m for m in SESSION_METRICS if m[0] != "gen_cpu"]
    for conc in concs:
        medians = {}
        for mode, prefix in CACHE_MODES:
            for key, _, _ in metrics:
                medians[(mode, key)] = cell(runs.get((prefix + conc, "postern"), []), key)
        if not any(medians[(m, "rate")][1] for m, _ in CACHE_MODES):
            continue
        if not lines:
            lines += ["", "Postern's auth cache (issue 5), IMAP LOGIN/LOGOUT through Postern only: the cache off,",
                      "on with every login a hit, on with every login a miss (auth_cache_ttl 0). Ratio: to \"off\"."]
        lines += ["", f"| c{conc} | metric | off | hit | miss | hit/off | miss/off | target |", "|---|---|---|---|---|---|---|---|"]
        for key, label, _ in metrics:
            off = medians[("off", key)][1]
            ratios = []
            for mode in ("hit", "miss"):
                value = medians[(mode, key)][1]
                ratios.append(f"{value / off:.2f}x" if off and value is not None else "")
            target = ""
            spec = CACHE_TARGETS.get(("hit", key))
            hit = medians[("hit", key)][1]
            if spec and off and hit is not None:
                op, want = spec
                r = hit / off
                ok = {">=": r >= want, "<=": r <= want, "<": r < want}[op]
                target = f"{op} {want}x: {'met' if ok else 'NOT met'}"
                checks.append((f"auth cache hit c{conc}", label, ok))
            lines.append(f"| c{conc} | {label} | " + " | ".join(medians[(m, key)][0] for m, _ in CACHE_MODES)
                         + f" | {ratios[0]} | {ratios[1]} | {target} |")
    return lines, checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--size", default="?")
    ap.add_argument("--rounds", default="?")
    ap.add_argument("--machine", default="?")
    ap.add_argument("--date", default="?")
    ap.add_argument("--out")
    args = ap.parse_args()
    order, runs = parse(args.results)
    errors = 0
    checks = []
    lines = [
        f"Postern vs nginx mail proxy: {args.date}; size {args.size}, {args.rounds} round(s); machine: {args.machine}",
        "Cells: median (min-max) over rounds. Ratio: Postern median / nginx median.",
        "",
        "| workload | metric | direct | nginx | postern | postern/nginx | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for workload in order:
        for key, label, better in metrics_for(workload):
            texts, meds = [], {}
            for t in TARGETS:
                samples = runs.get((workload, t), [])
                text, med = cell(samples, key)
                if text.startswith("ERROR"):
                    errors += 1
                texts.append(text)
                meds[t] = med
            if all(t == "-" for t in texts):
                continue
            ratio = ""
            if meds["nginx"] and meds["postern"] is not None and meds["nginx"] != 0:
                ratio = f"{meds['postern'] / meds['nginx']:.2f}x"
            target = ""
            spec = TARGET_RATIOS.get((workload, key))
            if spec:
                op, want = spec
                if ratio:
                    r = meds["postern"] / meds["nginx"]
                    ok = r >= want if op == ">=" else r <= want
                    target = f"{op} {want}x: {'met' if ok else 'NOT met'}"
                    checks.append((workload, label, ok))
                else:
                    target = f"{op} {want}x: n/a"
            lines.append(f"| {title(workload)} | {label} | " + " | ".join(texts) + f" | {ratio} | {target} |")
    for workload in order:
        if workload.startswith("idle_"):
            want = workload.split("_")[1]
            for t in ("nginx", "postern"):
                for s in runs.get((workload, t), []):
                    if "unsupported" not in s and s.get("answered") != want:
                        lines.append(f"{t}: {workload}: only {s.get('answered')} of {want} sessions answered")
                        errors += 1
    cache_lines, cache_checks = auth_cache_table(order, runs)
    checks += cache_checks
    met = sum(1 for c in checks if c[2])
    lines.append("")
    lines.append(f"Targets met: {met} of {len(checks)}." + (
        " Not met: " + "; ".join(f"{w} {l}" for w, l, ok in checks if not ok) if met < len(checks) else ""))
    lines.append(f"Errors: {errors}.")
    lines += cache_lines
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
