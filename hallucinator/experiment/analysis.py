"""``hallucinator experiment analyze DATA_DIR``: group tables (CSV) and figures (PNG).

* Questionnaires: dimension scores (0..100, the questionnaire's own scoring)
  per participant and condition; for every condition against the reference
  condition (the one with the lowest dose, e.g. control): paired t-test,
  Wilcoxon signed-rank test, Cohen's d_z (mean difference / SD of the
  differences), Holm-corrected p over the dimensions.  A radar chart of the
  condition means per questionnaire (like Fig. 3 of Suzuki et al. 2017) and
  a paired plot per dimension.
* Timing tasks: produced or reproduced / target interval per trial; mean
  ratio and coefficient of variation per participant, task and condition;
  paired comparison of the mean ratios; ratio by target figure.
* Head motion: angular speed between consecutive pose samples during the
  stimulus steps; median per participant and condition; paired comparison;
  figure.

Only the last attempt of every step is used (earlier attempts were
interrupted and re-run after ``--resume``).  Simulated sessions are used
when there are no real ones (``--include-simulated``).
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..errors import UserError
from . import bids
from .bids import num
from .figures import paired_plot, radar, stars, timing_figure
from .questionnaire import load_questionnaire
from .simulate import angular_speeds


def _holm(pvals: List[float]) -> List[float]:
    idx = [i for i, p in enumerate(pvals) if not math.isnan(p)]
    order = sorted(idx, key=lambda i: pvals[i])
    out = [float("nan")] * len(pvals)
    running = 0.0
    m = len(order)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvals[i]))
        out[i] = running
    return out


def paired_stats(a: np.ndarray, b: np.ndarray) -> Dict[str, float]:
    """b vs a, paired: n, means, SDs, mean difference, t, p, Wilcoxon p, Cohen's d_z, 95% CI of the difference."""
    from scipy import stats
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = len(a)
    d = b - a
    out = {"n": n, "mean_ref": float(np.mean(a)) if n else float("nan"),
           "sd_ref": float(np.std(a, ddof=1)) if n > 1 else float("nan"),
           "mean_cond": float(np.mean(b)) if n else float("nan"),
           "sd_cond": float(np.std(b, ddof=1)) if n > 1 else float("nan"),
           "mean_diff": float(np.mean(d)) if n else float("nan"),
           "t": float("nan"), "df": n - 1, "p": float("nan"), "p_wilcoxon": float("nan"), "dz": float("nan"),
           "ci_low": float("nan"), "ci_high": float("nan")}
    if n >= 2:
        sd = float(np.std(d, ddof=1))
        if sd > 0:
            res = stats.ttest_rel(b, a)
            out["t"], out["p"] = float(res.statistic), float(res.pvalue)
            out["dz"] = float(np.mean(d) / sd)
            half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
            out["ci_low"], out["ci_high"] = float(np.mean(d) - half), float(np.mean(d) + half)
        if np.any(d != 0):
            try:
                out["p_wilcoxon"] = float(stats.wilcoxon(b, a).pvalue)
            except ValueError:
                pass
    return out


class Dataset:
    def __init__(self, root: Path, include_simulated: str = "auto"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"data folder not found: {self.root}; give the --data folder of `experiment run`")
        sessions = bids.find_sessions(self.root)
        if not sessions:
            raise UserError(f"no sessions under {self.root} (expected sub-*/ses-*/*_session.json)")
        for s in sessions:
            s["info"] = bids.load_json(s["session_json"])
        real = [s for s in sessions if not s["info"].get("simulated")]
        if include_simulated == "no" or (include_simulated == "auto" and real):
            sessions = real
        if not sessions:
            raise UserError(f"only simulated sessions under {self.root}; add --include-simulated yes")
        self.sessions = sessions
        self.simulated = any(s["info"].get("simulated") for s in sessions)
        self.tasks = sorted({s["info"]["task"] for s in sessions})
        self.doses = {}

    def last_attempts(self, rows: List[dict]) -> List[dict]:
        last = {}
        for r in rows:
            st = r.get("step")
            if st not in (None, "n/a", ""):
                last[st] = max(last.get(st, 0), int(num(r.get("attempt"), 1)))
        return [r for r in rows if r.get("step") in (None, "n/a", "") or
                int(num(r.get("attempt"), 1)) == last.get(r.get("step"), 1)]

    def dose(self, condition, value) -> None:
        v = num(value)
        self.doses.setdefault(condition, 1.0 if math.isnan(v) else v)

    def reference(self, conditions) -> str:
        conds = sorted(conditions, key=lambda c: (self.doses.get(c, 1.0), c != "control", c))
        return conds[0]


def _questionnaires(ds: Dataset):
    """Long table of dimension scores: participant, session, condition, questionnaire, dimension, score."""
    rows = []
    for s in ds.sessions:
        info = s["info"]
        qdefs = {}
        for qf in s["dir"].glob("*_questionnaire-*.toml"):
            try:
                q = load_questionnaire(qf)
                qdefs[q.name] = q
            except UserError:
                pass
        beh = ds.last_attempts(bids.read_tsv(s["beh"]))
        groups = defaultdict(dict)
        for r in beh:
            if r.get("scale", "").startswith(("vas", "likert")) and r.get("condition") not in ("n/a", "", None):
                key = (r["condition"], r["task"], r["step"])
                groups[key][r["item"]] = (num(r["response"]), r["dimension"], r["scale"])
                ds.dose(r["condition"], r.get("dose"))
        for (cond, task, step), answers in groups.items():
            q = qdefs.get(task)
            if q is not None:
                scores = q.score({k: v[0] for k, v in answers.items() if not math.isnan(v[0])})
            else:
                by = defaultdict(list)
                for item, (val, dim, scale) in answers.items():
                    if scale.startswith("likert-"):
                        pts = int(scale.split("-")[1])
                        val = (val - 1) / (pts - 1) * 100
                    by[dim].append(val)
                scores = {d: float(np.nanmean(v)) for d, v in by.items()}
            for dim, sc in scores.items():
                rows.append({"participant": info["participant"], "session": info["session"], "task": info["task"],
                             "condition": cond, "questionnaire": task, "dimension": dim, "score": sc,
                             "simulated": int(bool(info.get("simulated")))})
    order = {}
    for s in ds.sessions:
        for qf in s["dir"].glob("*_questionnaire-*.toml"):
            try:
                q = load_questionnaire(qf)
                order.setdefault(q.name, q.dimensions)
            except UserError:
                pass
    return rows, order


def _paired_table(rows, value_key, group_keys, cond_key="condition", ds=None):
    """Per group: each condition vs the reference condition, paired by participant (mean over repeats)."""
    cells = defaultdict(lambda: defaultdict(list))
    for r in rows:
        g = tuple(r[k] for k in group_keys)
        cells[g][(r["participant"], r[cond_key])].append(r[value_key])
    out = []
    for g, cell in cells.items():
        conds = sorted({c for _, c in cell})
        if len(conds) < 2:
            continue
        ref = ds.reference(conds)
        parts = sorted({p for p, _ in cell})
        for c in conds:
            if c == ref:
                continue
            a = np.array([np.mean(cell[(p, ref)]) if (p, ref) in cell else np.nan for p in parts])
            b = np.array([np.mean(cell[(p, c)]) if (p, c) in cell else np.nan for p in parts])
            st = paired_stats(a, b)
            out.append({**dict(zip(group_keys, g)), "reference": ref, "condition": c, **st})
    # Holm over the groups of one family (first group key)
    fam = defaultdict(list)
    for i, r in enumerate(out):
        fam[(r[group_keys[0]], r["condition"])].append(i)
    for idx in fam.values():
        adj = _holm([out[i]["p"] for i in idx])
        for i, p in zip(idx, adj):
            out[i]["p_holm"] = p
    return out


def _timing(ds: Dataset):
    trials = []
    for s in ds.sessions:
        info = s["info"]
        for r in ds.last_attempts(bids.read_tsv(s["beh"])):
            if r.get("task") in ("production", "reproduction") and r.get("condition") not in ("n/a", "", None):
                resp, tgt = num(r["response"]), num(r["target"])
                if math.isnan(resp) or math.isnan(tgt) or tgt <= 0:
                    continue
                trials.append({"participant": info["participant"], "session": info["session"],
                               "condition": r["condition"], "task": r["task"], "trial": r["item"], "target": tgt,
                               "response": resp, "ratio": resp / tgt, "step": r["step"]})
                ds.dose(r["condition"], r.get("dose"))
    summary = []
    cells = defaultdict(list)
    for t in trials:
        cells[(t["participant"], t["condition"], t["task"])].append(t)
    for (p, c, task), ts in sorted(cells.items()):
        ratios = np.array([t["ratio"] for t in ts])
        resp = np.array([t["response"] for t in ts])
        summary.append({"participant": p, "condition": c, "task": task, "trials": len(ts),
                        "mean_ratio": float(np.mean(ratios)),
                        "cv": float(np.std(ratios, ddof=1) / np.mean(ratios)) if len(ts) > 1 else float("nan"),
                        "mean_response": float(np.mean(resp))})
    return trials, summary


def _motion(ds: Dataset):
    rows = []
    for s in ds.sessions:
        info = s["info"]
        if not s["motion"] or not Path(s["motion"]).exists():
            continue
        ev = ds.last_attempts(bids.read_tsv(s["events"]))
        stims = [r for r in ev if r["trial_type"] == "stimulus"]
        motion = bids.iter_motion(s["motion"], s["channels"])
        by_step = defaultdict(list)
        for m in motion:
            by_step[m["step"]].append(m)
        for st in stims:
            samples = by_step.get(st["step"], [])
            t0, dur = num(st["onset"]), num(st["duration"])
            samples = [m for m in samples if t0 - 1e-6 <= num(m["latency"]) <= t0 + dur + 1e-6]
            if len(samples) < 3:
                continue
            times = np.array([num(m["latency"]) for m in samples])
            quats = np.array([[num(m["quat_w"]), num(m["quat_x"]), num(m["quat_y"]), num(m["quat_z"])]
                              for m in samples])
            sp = angular_speeds(times, quats)
            if not len(sp):
                continue
            ds.dose(st["condition"], st.get("dose"))
            rows.append({"participant": info["participant"], "session": info["session"],
                         "condition": st["condition"], "step": st["step"], "samples": len(samples),
                         "seconds": float(times[-1] - times[0]), "median_speed": float(np.median(sp)),
                         "mean_speed": float(np.mean(sp)), "p90_speed": float(np.percentile(sp, 90)),
                         "total_rotation": float(np.sum(sp * np.diff(times)[np.diff(times) > 1e-6]))})
    return rows


SMALL_SAMPLE = 10    # participants below which the report says its statistics are not evidence
STAT_COLS = ["reference", "condition", "n", "mean_ref", "sd_ref", "mean_cond", "sd_cond", "mean_diff", "ci_low",
             "ci_high", "t", "df", "p", "p_holm", "p_wilcoxon", "dz"]


def _questionnaire_figures(out: Path, qname: str, qrows, qstats, dims, ds: Dataset, note: str) -> List[str]:
    """Radar and paired figures of one questionnaire; its lines of the report."""
    conds = sorted({r["condition"] for r in qrows if r["questionnaire"] == qname},
                   key=lambda c: (ds.doses.get(c, 1), c))
    per = defaultdict(lambda: defaultdict(dict))
    for r in qrows:
        if r["questionnaire"] == qname:
            per[r["dimension"]][r["participant"]].setdefault(r["condition"], r["score"])
    means = {c: [float(np.nanmean([per[d][p].get(c, np.nan) for p in per[d]])) for d in dims] for c in conds}
    sems = {}
    for c in conds:
        sems[c] = []
        for d in dims:
            v = np.array([per[d][p].get(c, np.nan) for p in per[d]])
            v = v[~np.isnan(v)]
            sems[c].append(float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0)
    st_by = {r["dimension"]: r for r in qstats if r["questionnaire"] == qname}
    marks = [stars(st_by[d].get("p_holm")) if d in st_by else "" for d in dims]
    npart = len({r["participant"] for r in qrows if r["questionnaire"] == qname})
    radar(out / f"questionnaire_{qname}_radar.png", f"{qname}: mean dimension scores (0-100)",
          dims, means, sems, marks, subtitle=f"N = {npart}{note}; shaded: ±1 SEM; * Holm p < .05")
    paired_plot(out / f"questionnaire_{qname}_paired.png", f"{qname}: per participant{note}", dims, per,
                conds, "score (0-100)", st_by)
    report = [f"## Questionnaire {qname}", "",
              "| dimension | " + " | ".join(f"{c} mean" for c in conds) + " | diff | d_z | p | p (Holm) |",
              "|---" * (len(conds) + 5) + "|"]
    for d in dims:
        st = st_by.get(d)
        cols = " | ".join(f"{means[c][dims.index(d)]:.1f}" for c in conds)
        if st:
            report.append(f"| {d} | {cols} | {st['mean_diff']:+.1f} | {st['dz']:.2f} | {st['p']:.3g} | "
                          f"{st.get('p_holm', float('nan')):.3g} |")
    return report + [""]


def _questionnaire_section(ds: Dataset, out: Path, note: str):
    """(score rows, report lines): scores, statistics and figures of every questionnaire."""
    qrows, dim_order = _questionnaires(ds)
    if not qrows:
        return qrows, []
    bids.write_csv(out / "questionnaire_scores.csv", qrows,
                   ["participant", "session", "task", "condition", "questionnaire", "dimension", "score",
                    "simulated"])
    qstats = _paired_table(qrows, "score", ["questionnaire", "dimension"], ds=ds)
    bids.write_csv(out / "questionnaire_stats.csv", qstats, ["questionnaire", "dimension"] + STAT_COLS)
    report = []
    for qname in sorted({r["questionnaire"] for r in qrows}):
        dims = [d for d in dim_order.get(qname, []) if any(r["dimension"] == d and r["questionnaire"] == qname
                                                           for r in qrows)]
        dims += sorted({r["dimension"] for r in qrows if r["questionnaire"] == qname} - set(dims))
        report += _questionnaire_figures(out, qname, qrows, qstats, dims, ds, note)
    return qrows, report


def _timing_section(ds: Dataset, out: Path, note: str):
    """(trial rows, report lines): timing tables, statistics and figure."""
    trials, tsum = _timing(ds)
    if not trials:
        return trials, []
    bids.write_csv(out / "timing_trials.csv", trials,
                   ["participant", "session", "condition", "task", "trial", "step", "target", "response", "ratio"])
    bids.write_csv(out / "timing_summary.csv", tsum,
                   ["participant", "condition", "task", "trials", "mean_ratio", "cv", "mean_response"])
    tstats = _paired_table(tsum, "mean_ratio", ["task"], ds=ds)
    bids.write_csv(out / "timing_stats.csv", tstats, ["task"] + STAT_COLS)
    timing_figure(out / "timing_ratios.png", trials,
                  sorted({t["condition"] for t in trials}, key=lambda c: (ds.doses.get(c, 1), c)), note)
    report = ["## Timing tasks (produced or reproduced / target)", ""]
    for st in tstats:
        report.append(f"- {st['task']}: {st['reference']} {st['mean_ref']:.3f}, {st['condition']} "
                      f"{st['mean_cond']:.3f}; diff {st['mean_diff']:+.3f}, d_z {st['dz']:.2f}, "
                      f"p {st['p']:.3g} (N = {st['n']})")
    return trials, report + [""]


def _motion_section(ds: Dataset, out: Path, note: str):
    """(per-stimulus rows, report lines): head-motion tables, statistics and figure."""
    mrows = _motion(ds)
    if not mrows:
        return mrows, []
    bids.write_csv(out / "motion_summary.csv", mrows,
                   ["participant", "session", "condition", "step", "samples", "seconds", "median_speed",
                    "mean_speed", "p90_speed", "total_rotation"])
    mstats = _paired_table([{**r, "what": "median angular speed"} for r in mrows], "median_speed", ["what"], ds=ds)
    bids.write_csv(out / "motion_stats.csv", mstats, ["what"] + STAT_COLS)
    conds = sorted({r["condition"] for r in mrows}, key=lambda c: (ds.doses.get(c, 1), c))
    per = {"median angular head speed": defaultdict(dict)}
    for r in mrows:
        per["median angular head speed"][r["participant"]].setdefault(r["condition"], r["median_speed"])
    paired_plot(out / "motion_speed.png", f"Head motion during the videos\n{note.strip()}", list(per), per, conds,
                "deg/s", {"median angular head speed": mstats[0]} if mstats else None, ncols=1)
    report = ["## Head motion (median angular speed during stimuli, deg/s)", ""]
    for st in mstats:
        report.append(f"- {st['reference']} {st['mean_ref']:.1f}, {st['condition']} {st['mean_cond']:.1f}; "
                      f"diff {st['mean_diff']:+.1f}, d_z {st['dz']:.2f}, p {st['p']:.3g} (N = {st['n']})")
    return mrows, report + [""]


def small_sample_caveat(n: int) -> List[str]:
    """Report lines that warn against reading the statistics of fewer than :data:`SMALL_SAMPLE` participants."""
    if n >= SMALL_SAMPLE:
        return []
    return [f"**Small sample: N = {n}.** With fewer than {SMALL_SAMPLE} participants the p-values, confidence "
            f"intervals and d_z below check the pipeline; they are not evidence for or against an effect. d_z "
            f"divides by the SD of {n} paired difference{'s' if n != 1 else ''} (the t test has {max(n - 1, 0)} "
            f"degree{'s' if n != 2 else ''} of freedom), so it can be huge by chance, and the Wilcoxon test "
            f"cannot reach p below {min(1.0, 2 / 2 ** n):.3g} (2/2^N).", ""]


def analyze(data: Path, out: Optional[Path] = None, include_simulated: str = "auto", console=None) -> Path:
    """Write tables and figures for every session under ``data``; return the output folder."""
    import matplotlib
    matplotlib.use("Agg")
    ds = Dataset(Path(data), include_simulated)
    out = Path(out) if out else Path(data) / "derivatives" / "hallucinator"
    out.mkdir(parents=True, exist_ok=True)
    note = " (SIMULATED participants)" if ds.simulated else ""
    report = [f"# Analysis of {Path(data)}", "",
              f"{len(ds.sessions)} sessions, {len({s['info']['participant'] for s in ds.sessions})} participants"
              f"{note}; task(s): {', '.join(ds.tasks)}.", ""]
    report += small_sample_caveat(len({s["info"]["participant"] for s in ds.sessions}))
    found = False
    for section in (_questionnaire_section, _timing_section, _motion_section):
        rows, lines = section(ds, out, note)
        found = found or bool(rows)
        report += lines
    if not found:
        raise UserError(f"no questionnaire, timing or motion data in {data}; were the sessions run to the end?")
    (out / "report.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    if console is not None:
        print("\n".join(report), file=console)
    return out
