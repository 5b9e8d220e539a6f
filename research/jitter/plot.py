"""The averaging attack's estimate of W against N: one column per result
(grain: off, 10 us, 100 us, 1 ms, whatever results are given), one row per
clock source; solid lines are the censored mean (samples over 1 ms or 3
grains above the median dropped: preemption) with its standard error,
dotted lines the 10 % trimmed mean, dashed grey lines the true W."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {5: "tab:purple", 10: "tab:blue", 30: "tab:green", 50: "tab:red"}


def _series(res, clock):
    """{w_us: [(n, net_cmean, se, net_tmean, true)]} of the dynamic build."""
    out = {}
    for r in res["runs"]:
        if r["prog"] != "avg" or r["build"] != "dynamic":
            continue
        for x in r["lines"]:
            if x.get("attack") == "avg" and x.get("clock") == clock and \
                    x.get("status") == "ok" and x["w_us"] > 0:
                out.setdefault(int(x["w_us"]), []).append(
                    (x["n"], x["net_cmean_ns"], x["cmean_se_ns"], x["net_tmean_ns"],
                     x["w_true_ns"]))
    return out


def _us(v):
    return None if v is None else v / 1000.0


def estimates(results, out, clocks):
    """Write the grid of panels to OUT (a PNG)."""
    clocks = [c for c in clocks if any(_series(r, c) for r in results)] or clocks[:1]
    fig, axes = plt.subplots(len(clocks), len(results), squeeze=False, sharex=True,
                             figsize=(4.2 * len(results) + 1, 2.8 * len(clocks) + 0.6))
    for row, clock in enumerate(clocks):
        for col, res in enumerate(results):
            ax = axes[row][col]
            series = _series(res, clock)
            for w, pts in sorted(series.items()):
                pts.sort()
                n = [p[0] for p in pts]
                color = COLORS.get(w, "black")
                ax.errorbar(n, [_us(p[1]) for p in pts],
                            yerr=[_us(p[2]) or 0 for p in pts], color=color,
                            marker="o", ms=3, capsize=2, label="W=%d us" % w)
                ax.plot(n, [_us(p[3]) for p in pts], color=color, ls=":", marker=".")
                ax.axhline(_us(pts[0][4]), color="grey", ls="--", lw=0.8)
            if not series:
                ax.text(0.5, 0.5, "no result", ha="center", va="center",
                        transform=ax.transAxes)
            ax.set_xscale("log")
            lo, hi = ax.get_ylim()
            ax.set_ylim(max(lo, -10), min(hi, 75))
            ax.set_title("grain %s: %s" % (res.get("grain") or res["label"], clock),
                         fontsize=9)
            if row == len(clocks) - 1:
                ax.set_xlabel("N (samples per W)")
            if col == 0:
                ax.set_ylabel("estimated W (us)")
            if row == 0 and col == 0 and series:
                ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Averaging attack: estimate of W against N\n(solid: censored mean +- SE, "
                 "dotted: trimmed mean, dashed: true W)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
