"""The sweep's plots (Debian's python3-matplotlib, Agg backend, PNG).

- shares.png: for each policy (count class x key), the share of
  fingerprinters caught and of everyday and sysinfo programs limited as
  MAX_CALLS varies (log scale), one line style per window;
- peaks.png: per program, its peak counted calls per window (all runs'
  maximum) for each count class, at one key and window.
"""

import os

from . import corpus

COLOURS = {"fingerprint": "tab:red", "everyday": "tab:blue", "sysinfo": "tab:green"}
STYLES = ("-", "--", ":", "-.")


def draw(out, programs, shares, grid, key, window):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .replay import CountClass
    counts = [CountClass(c).label for c in grid["counts"]]
    keys = grid["keys"]
    fig, axes = plt.subplots(len(counts), len(keys), squeeze=False,
                             figsize=(3.2 * len(keys), 2.4 * len(counts)),
                             sharex=True, sharey=True)
    for i, c in enumerate(counts):
        for j, k in enumerate(keys):
            ax = axes[i][j]
            for w, style in zip(grid["windows_ms"], STYLES):
                pts = sorted((s for s in shares if s["count"] == c and s["key"] == k
                              and s["window_ms"] == w), key=lambda s: s["max_calls"])
                for cls in corpus.CLASSES:
                    ys = [s[cls] for s in pts]
                    if any(y is None for y in ys):
                        continue
                    ax.plot([s["max_calls"] for s in pts], [100 * y for y in ys],
                            style, color=COLOURS[cls], linewidth=1.2,
                            label="%s %d ms" % (cls, w))
            ax.set_xscale("log")
            ax.set_title("count %s, key %s" % (c, k), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel("% limited", fontsize=8)
            if i == len(counts) - 1:
                ax.set_xlabel("MAX_CALLS", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    shares_png = os.path.join(out, "shares.png")
    fig.savefig(shares_png, dpi=80)
    plt.close(fig)

    progs = sorted(programs, key=lambda p: (corpus.CLASSES.index(p["class"]), p["name"]))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(progs) + 1.2))
    height = 0.8 / max(1, len(counts))
    for n, c in enumerate(counts):
        vals = [max(1, p["peaks"].get("%s|%s|%d" % (c, key, window), 0)) for p in progs]
        ax.barh([i + n * height for i in range(len(progs))], vals, height=height,
                label="count " + c, alpha=0.85)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(progs))])
    ax.set_yticklabels(["%s (%s)" % (p["name"], p["class"][:4]) for p in progs], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("peak calls in one %d ms window, key %s (log; 0 shown as 1)"
                  % (window, key), fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    peaks_png = os.path.join(out, "peaks.png")
    fig.savefig(peaks_png, dpi=80)
    plt.close(fig)
    return {"shares_png": shares_png, "peaks_png": peaks_png}
