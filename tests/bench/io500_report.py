#!/usr/bin/env python3
"""Summarise an IO500-style run (run-io500.sh): medians per configuration and
phase, the targets, a Markdown table, JSON, and an SVG chart (gnuplot).
With --update-docs SRCDIR: docs/bench-io500.md, docs/bench-io500.svg and the
README table between its io500 markers are regenerated from the same data."""
import json, os, re, shutil, statistics, subprocess, sys

out = sys.argv[1]
srcdir = sys.argv[sys.argv.index("--update-docs") + 1] if "--update-docs" in sys.argv else None
rows = [json.loads(l) for l in open(os.path.join(out, "results.jsonl")) if l.startswith("{")]
IO = ["easy_write", "easy_read", "hard_write", "hard_read"]
MD = ["md_easy_create", "md_easy_stat", "md_easy_delete",
      "md_hard_create", "md_hard_stat", "md_hard_read", "md_hard_delete"]
COLS = [("benchfs", "1s-1r"), ("benchfs", "1s-2r"), ("benchfs", "2s-2r"), ("benchfs", "2s-4r"),
        ("ext4", "1r"), ("ext4", "2r"), ("tmpfs", "1r"), ("tmpfs", "2r")]

def med(vals):
    return statistics.median(vals) if vals else None

def metric(r):
    if r["phase"] in IO:
        return r["bytes"] / r["seconds"] / 1e6          # MB/s
    return r["ops"] / r["seconds"]                     # ops/s

summary = {}
for (label, cfg) in COLS:
    for ph in IO + MD:
        sel = [r for r in rows if r["label"] == label and r["config"] == cfg and r["phase"] == ph]
        if not sel:
            continue
        cpu = [r.get("server_cpu_s", 0) for r in sel]
        e = {"value": med([metric(r) for r in sel]), "runs": len(sel)}
        if label == "benchfs":
            if ph in IO:
                e["server_cpu_s_per_gib"] = med([r.get("server_cpu_s", 0) / (r["bytes"] / 2**30) for r in sel])
            else:
                e["server_cpu_s_per_1000_ops"] = med([r.get("server_cpu_s", 0) / (r["ops"] / 1000) for r in sel])
        summary.setdefault(f"{label}:{cfg}", {})[ph] = e
    idle = [r["server_cpu_s"] / r["seconds"] * 100 for r in rows
            if r["label"] == label and r["config"] == cfg and r["phase"] == "idle"]
    if idle:
        summary[f"{label}:{cfg}"]["idle_cpu_percent"] = med(idle)

try:
    rpc = json.load(open(os.path.join(out, "rpc.json")))
except Exception:
    rpc = {}
perftest_bw = float(open(os.path.join(out, "perftest_bw.txt")).read().strip() or 0) * 1.048576  # MiB/s -> MB/s

def v(key, ph):
    return summary.get(key, {}).get(ph, {}).get("value")

targets = []
def target(name, val, goal, ok):
    targets.append({"target": name, "measured": val, "goal": goal, "met": bool(ok)})

b12, e2 = "benchfs:1s-2r", "ext4:2r"
for ph in ["easy_write", "easy_read"]:
    if v(b12, ph) and v(e2, ph):
        r = v(b12, ph) / v(e2, ph)
        target(f"{ph} vs ext4 (1 server, 2 ranks)", round(r, 2), ">= 0.60", r >= 0.6)
    if v(b12, ph) and perftest_bw:
        r = v(b12, ph) / perftest_bw
        target(f"{ph} vs ucx_perftest 1 MiB AM bw", round(r, 2), ">= 0.70", r >= 0.7)
for ph in ["md_easy_create", "md_easy_stat", "md_easy_delete"]:
    if v(b12, ph):
        target(f"{ph} ops/s (1 server, 2 ranks)", round(v(b12, ph)), ">= 150000", v(b12, ph) >= 150000)
if v(b12, "hard_write") and v(b12, "easy_write"):
    r = v(b12, "easy_write") / v(b12, "hard_write")
    target("easy write / hard write (1 server, 2 ranks)", round(r, 2), "<= 3", r <= 3)
for over in ["benchfs:2s-2r", "benchfs:2s-4r"]:
    for ph in ["easy_write", "easy_read", "md_easy_create"]:
        if v(over, ph) and v(b12, ph):
            r = v(over, ph) / v(b12, ph)
            target(f"{ph} {over.split(':')[1]} vs 1s-2r", round(r, 2), ">= 0.50", r >= 0.5)
idles = [s.get("idle_cpu_percent") for k, s in summary.items() if k.startswith("benchfs") and s.get("idle_cpu_percent") is not None]
if idles:
    target("idle servers, % of a core (max over configs)", round(max(idles), 2), "< 1", max(idles) < 1)

def fmt(x, ph):
    if x is None:
        return "-"
    return f"{x:,.0f}" if ph in MD or x >= 100 else f"{x:.1f}"

lines = ["| phase | unit | " + " | ".join(f"{l} {c}" for l, c in COLS) + " |",
         "|---|---|" + "---:|" * len(COLS)]
for ph in IO + MD:
    unit = "MB/s" if ph in IO else "ops/s"
    lines.append(f"| {ph} | {unit} | " + " | ".join(fmt(v(f'{l}:{c}', ph), ph) for l, c in COLS) + " |")
cpu = ["", "| server CPU | unit | " + " | ".join(c for l, c in COLS if l == "benchfs") + " |",
       "|---|---|" + "---:|" * 4]
for ph in IO:
    cpu.append(f"| {ph} | s/GiB | " + " | ".join(
        f"{summary.get(f'benchfs:{c}', {}).get(ph, {}).get('server_cpu_s_per_gib', 0):.2f}"
        for l, c in COLS if l == "benchfs") + " |")
for ph in MD:
    cpu.append(f"| {ph} | s/1000 ops | " + " | ".join(
        f"{summary.get(f'benchfs:{c}', {}).get(ph, {}).get('server_cpu_s_per_1000_ops', 0):.3f}"
        for l, c in COLS if l == "benchfs") + " |")
cpu.append("| idle | % of a core | " + " | ".join(
    f"{summary.get(f'benchfs:{c}', {}).get('idle_cpu_percent', 0):.2f}" for l, c in COLS if l == "benchfs") + " |")
tl = ["", "| target | measured | goal | |", "|---|---:|---|---|"]
for t in targets:
    tl.append(f"| {t['target']} | {t['measured']} | {t['goal']} | {'PASS' if t['met'] else 'MISS'} |")
ref = (f"\nTransport limit in the same run: ucx_perftest ucp_am_bw 1 MiB = {perftest_bw:,.0f} MB/s"
       + (f"; benchfs-rpc-bench: see rpc.json" if rpc else "") + ".\n")
table = "\n".join(lines + cpu + tl) + "\n" + ref
open(os.path.join(out, "table.md"), "w").write(table)
json.dump({"summary": summary, "targets": targets, "perftest_am_bw_MBps": perftest_bw},
          open(os.path.join(out, "summary.json"), "w"), indent=1)
print(table)

# Chart: each phase relative to ext4 with the same number of ranks.
dat = os.path.join(out, "chart.dat")
with open(dat, "w") as f:
    f.write("phase 1s-2r/ext4-2r 2s-4r/ext4-2r tmpfs-2r/ext4-2r\n")
    for ph in IO + ["md_easy_create", "md_easy_stat", "md_easy_delete", "md_hard_create"]:
        base = v("ext4:2r", ph) or 0
        row = [v("benchfs:1s-2r", ph), v("benchfs:2s-4r", ph), v("tmpfs:2r", ph)]
        f.write(ph + " " + " ".join(f"{(x or 0) / base:.3f}" if base else "0" for x in row) + "\n")
svg = os.path.join(out, "chart.svg")
if shutil.which("gnuplot"):
    subprocess.run(["gnuplot", "-e", f"""
set terminal svg size 900,420 font 'sans,11'; set output '{svg}';
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1;
set ylabel 'relative to ext4, 2 ranks (higher is better)'; set logscale y; set yrange [0.05:*];
set xtics rotate by -30; set key top left; set grid ytics;
set title 'BenchFS IO500-style phases (medians)';
plot '{dat}' using 2:xtic(1) title columnhead, '' using 3 title columnhead, '' using 4 title columnhead
"""], check=False)
if srcdir:
    docs = os.path.join(srcdir, "docs")
    open(os.path.join(docs, "bench-io500.md"), "w").write(
        "# IO500-style results\n\nGenerated by tests/bench/run-io500.sh (make bench-io500) from "
        f"{os.path.basename(out)}.\n\n" + table + "\n![chart](bench-io500.svg)\n")
    if os.path.exists(svg):
        shutil.copy(svg, os.path.join(docs, "bench-io500.svg"))
    readme = os.path.join(srcdir, "README.md")
    text = open(readme).read()
    short = "\n".join(lines[:2] + [l for l in lines[2:] if l.split("|")[1].strip() in
                                   ("easy_write", "easy_read", "hard_write", "hard_read",
                                    "md_easy_create", "md_easy_stat", "md_easy_delete")])
    short += "\n" + "\n".join(tl) + "\n"
    text = re.sub(r"<!-- io500-table -->.*<!-- /io500-table -->",
                  "<!-- io500-table -->\n" + short + "<!-- /io500-table -->", text, flags=re.S)
    open(readme, "w").write(text)
