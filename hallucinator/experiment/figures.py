"""Figures of the analysis: radar of dimension means, paired plots per participant, timing ratios."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np


def stars(p) -> str:
    """Significance stars of a p value (empty when not significant or not a number)."""
    if p is None or math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


COLORS = {"control": "#4c72b0", "dream": "#dd8452"}


def _color(c, i):
    import matplotlib
    return COLORS.get(c, matplotlib.colormaps["tab10"](i % 10))


def radar(path: Path, title: str, dims: List[str], means: Dict[str, List[float]], sems: Dict[str, List[float]],
          labels_extra: Optional[List[str]] = None, subtitle: str = ""):
    import matplotlib.pyplot as plt
    fig = radar_figure(title, dims, means, sems, labels_extra, subtitle)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def radar_figure(title: str, dims: List[str], means: Dict[str, List[float]], sems: Dict[str, List[float]],
                 labels_extra: Optional[List[str]] = None, subtitle: str = ""):
    """The radar chart: condition means ±1 SEM on the dimensions, the legend in a row below the chart."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(dims)
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    fig = plt.figure(figsize=(8.5, 8.0))
    ax = fig.add_subplot(111, polar=True)
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    top = max(20.0, min(100.0, 10 * math.ceil(max(max(m) + max(s) for m, s in
                                                     zip(means.values(), sems.values())) / 10 + 0.5)))
    for i, (cond, m) in enumerate(means.items()):
        m = np.asarray(m)
        s = np.asarray(sems[cond])
        col = _color(cond, i)
        a2 = np.r_[ang, ang[:1]]
        ax.plot(a2, np.r_[m, m[:1]], color=col, lw=2.2, label=cond)
        ax.fill(a2, np.r_[m, m[:1]], color=col, alpha=0.15)
        ax.fill_between(a2, np.r_[m - s, m[:1] - s[:1]], np.r_[m + s, m[:1] + s[:1]], color=col, alpha=0.12,
                        lw=0)
    labels = [d + (f" {labels_extra[i]}" if labels_extra and labels_extra[i] else "") for i, d in enumerate(dims)]
    import textwrap
    ax.set_xticks(ang)
    ax.set_xticklabels(["\n".join(textwrap.wrap(lb, 16)) for lb in labels], fontsize=9)
    ax.set_ylim(0, top)
    ax.set_rlabel_position(180 / n)
    ax.tick_params(axis="y", labelsize=8, colors="0.4")
    ax.set_title(title + ("\n" + subtitle if subtitle else ""), fontsize=12, pad=28)
    fig.legend(loc="lower center", bbox_to_anchor=(0.5, 0.01), ncol=min(len(means), 4), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def paired_plot(path: Path, title: str, panels: List[str], data: Dict[str, Dict[str, Dict[str, float]]],
                conds: List[str], ylabel: str, stats_by_panel: Dict[str, dict] = None, ncols: int = 4):
    """One panel per item of ``panels``: a dot per participant and condition, lines joining a participant."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(panels)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.5, 3.0 * ncols), max(4.0, 2.8 * nrows)), squeeze=False)
    for k, panel in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        d = data.get(panel, {})
        parts = sorted(d)
        for p in parts:
            ys = [d[p].get(c, np.nan) for c in conds]
            ax.plot(range(len(conds)), ys, color="0.75", lw=0.8, zorder=1)
        for i, c in enumerate(conds):
            ys = np.array([d[p].get(c, np.nan) for p in parts])
            ax.scatter(np.full(len(ys), i), ys, s=14, color=_color(c, i), zorder=2)
            if len(ys):
                ax.errorbar(i + 0.18, np.nanmean(ys), yerr=np.nanstd(ys, ddof=1) / math.sqrt(max(1, np.sum(~np.isnan(ys)))),
                            fmt="o", color="k", ms=4, capsize=3, zorder=3)
        st = (stats_by_panel or {}).get(panel)
        sub = ""
        if st:
            sub = f"\ndz={st['dz']:.2f} p={st['p']:.3g}{stars(st.get('p_holm', st['p']))}" if not math.isnan(st["p"]) else ""
        ax.set_title(panel + sub, fontsize=9)
        ax.set_xticks(range(len(conds)))
        ax.set_xticklabels(conds, fontsize=8)
        ax.set_xlim(-0.5, len(conds) - 0.3)
        if k % ncols == 0:
            ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def timing_figure(path: Path, trials, conds: List[str], note: str):
    """Response / target by target interval, one panel per task, a line per condition (``conds`` in order)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    tasks = sorted({t["task"] for t in trials})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4.2), squeeze=False)
    for k, task in enumerate(tasks):
        ax = axes[0][k]
        for i, c in enumerate(conds):
            ts = [t for t in trials if t["task"] == task and t["condition"] == c]
            if not ts:
                continue
            targets = sorted({t["target"] for t in ts})
            # mean over participants of each participant's mean ratio at that target
            ms, es = [], []
            for tg in targets:
                per = defaultdict(list)
                for t in ts:
                    if t["target"] == tg:
                        per[t["participant"]].append(t["ratio"])
                v = np.array([np.mean(x) for x in per.values()])
                ms.append(np.mean(v))
                es.append(np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0)
            off = (i - (len(conds) - 1) / 2) * 0.04
            ax.errorbar(np.array(targets) * (1 + off), ms, yerr=es, marker="o", capsize=3, label=c,
                        color=_color(c, i))
        ax.axhline(1.0, color="0.5", ls="--", lw=1)
        ax.set_xscale("log")
        all_t = sorted({t["target"] for t in trials if t["task"] == task})
        ax.set_xticks(all_t)
        ax.set_xticklabels([f"{x:g}" for x in all_t])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("target interval (s)")
        ax.set_ylabel("response / target")
        ax.set_title(f"{task}{note}", fontsize=10)
        ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
