#!/usr/bin/env python3
"""The 0.5B cost curve from qwen05b-curve.sh's log: a Markdown table and a PNG of step time and peak RSS by length.

Usage: python curve_table.py LOG OUT_MD OUT_PNG
"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def shares(log):
    """Each side's step as a share of the measured GEMM rate (the *_SHARE lines), by length."""
    out = {}
    for line in open(log):
        m = re.match(r"length=(\d+) (TRL_DPO|DRIFT_DPO)_SHARE (.*)", line.strip())
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(3).split() if "=" in kv)
            out.setdefault(int(m.group(1)), {})[m.group(2)] = float(fields["peak_share"])
    return out


def parse(log):
    rows = {}
    for line in open(log):
        m = re.match(r"length=(\d+) (TRL_DPO|DRIFT_DPO) (.*)", line.strip())
        if not m:
            continue
        fields = dict(kv.split("=", 1) for kv in m.group(3).split() if "=" in kv)
        rows.setdefault(int(m.group(1)), {})[m.group(2)] = (float(fields["median_step_s"]),
                                                             float(fields["peak_rss_mb"]))
    return dict(sorted(rows.items()))


def main():
    log, out_md, out_png = sys.argv[1:4]
    rows = parse(log)
    share = shares(log)
    lines = ["| length | TRL step | drift step | time ratio | TRL peak RSS | drift peak RSS | memory ratio "
             "| TRL / GEMM peak | drift / GEMM peak |",
             "|---|---|---|---|---|---|---|---|---|"]
    for length, r in rows.items():
        if "TRL_DPO" not in r or "DRIFT_DPO" not in r:
            continue
        (ts, tm), (ds, dm) = r["TRL_DPO"], r["DRIFT_DPO"]
        sh = share.get(length, {})
        pct = lambda side: f"{100 * sh[side]:.0f}%" if side in sh else "-"  # noqa: E731
        lines.append(f"| {length} | {ts:.2f} s | {ds:.2f} s | {ds / ts:.2f}x | {tm:,.0f} MB | {dm:,.0f} MB | "
                     f"{dm / tm:.2f}x | {pct('TRL_DPO')} | {pct('DRIFT_DPO')} |")
    open(out_md, "w").write("\n".join(lines) + "\n")
    lengths = [n for n, r in rows.items() if len(r) == 2]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("TRL_DPO", "TRL DPOTrainer"), ("DRIFT_DPO", "drift")):
        a.plot(lengths, [rows[n][key][0] for n in lengths], marker="o", label=label)
        b.plot(lengths, [rows[n][key][1] / 1024 for n in lengths], marker="o", label=label)
    for ax, title, unit in ((a, "median step time", "s"), (b, "peak RSS", "GB")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.set_xlabel("tokens per sequence (1 pair)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("DPO step on Qwen2.5-0.5B's geometry, bf16, activation checkpointing, 2 CPU cores")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)


if __name__ == "__main__":
    main()
