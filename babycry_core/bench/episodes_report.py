"""What `bench episodes` shows: the plotted night (results/night.png) and the printed report, with one row per
background of the nights (the manifest's kinds: room, speech_men, ..., household_street, laughing, silence; or
by label on an older manifest)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_night(starts, p, events, found, rule, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = (np.asarray(starts) + rule.win_seconds / 2) / 60
    fig, ax = plt.subplots(figsize=(13, 4.0), dpi=110)
    for e in events:
        ax.axvspan(e["onset"] / 60, e["offset"] / 60, ymin=0.0, ymax=1.0, color="#2ca02c", alpha=0.18, lw=0)
    ax.plot(t, p, lw=0.6, color="#1f77b4", label="P(cry) per 2 s window")
    ax.axhline(rule.threshold, color="grey", ls="--", lw=0.8, label=f"threshold {rule.threshold:.2f}")
    for i, e in enumerate(found):
        ax.plot([e.start / 60, e.end / 60], [1.06, 1.06], color="#d62728", lw=4, solid_capstyle="butt",
                label="found episode" if i == 0 else None)
        if e.alert_at is not None:
            ax.plot(e.alert_at / 60, 1.06, "v", color="#d62728", ms=4)
    ax.axvspan(0, 0, color="#2ca02c", alpha=0.18, label="true cry (inserted)")
    blocks = sorted({(e.get("background"), int(e["onset"] // 1800)) for e in events}, key=lambda x: x[1])
    for b, i in blocks:
        if b:
            ax.text(i * 30 + 0.5, -0.12, b, fontsize=8, color="dimgray")
    ax.set_ylim(-0.18, 1.12)
    ax.set_xlim(0, t[-1] if len(t) else 1)
    ax.set_xlabel("minutes")
    ax.set_ylabel("P(cry)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=4, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _num(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _table(rep: dict) -> list[str]:
    """One row per background: false alerts per hour, event F1 and recall of its cry nights."""
    fa, f1, rec = rep["false_alerts"], rep.get("event_f1_by_background", {}), rep.get("recall_by_background", {})
    rows = [f"  {'background':<18}{'alerts/h':>9}{'alerts':>8}{'hours':>7}{'event F1':>10}{'recall':>8}"]
    for b in list(dict.fromkeys([*fa, *f1])):
        v = fa.get(b, {})
        rows.append(f"  {b:<18}{_num(v.get('per_hour')):>9}{v.get('alerts', '-'):>8}{v.get('hours', '-'):>7}"
                    f"{_num(f1[b]['f1'] if b in f1 else None):>10}{_num(rec.get(b)):>8}")
    return rows


def format_report(rep: dict) -> str:
    f1, f1o, ps = rep["event_f1_onset"], rep["event_f1_onset_offset"], rep["psds"]
    d = rep["alert_delay_s"]
    lines = [f"model: {rep.get('model', 'cry_detector')}; folds held out: {rep['held_out_folds']} of "
             f"{[f['fold'] for f in rep['folds']]}",
             f"{rep['nights']['cries']} cries in {rep['nights']['cry_hours']} h of cry nights; "
             f"{rep['nights']['background_only_hours']} h of background-only nights",
             f"event F1 (onset collar 1 s): {f1['f1']:.3f} (precision {f1['precision']:.3f}, recall {f1['recall']:.3f}); "
             f"with offsets: {f1o['f1']:.3f}",
             f"PSDS scenario 1: {ps['scenario1']:.3f}; scenario 2: {ps['scenario2']:.3f}",
             f"false alerts per hour (worst {_num(rep.get('false_alerts_per_hour_max'))}; speech "
             f"{_num(rep.get('false_alerts_per_hour_speech'))}, noise {_num(rep.get('false_alerts_per_hour_noise'))}):",
             *_table(rep),
             f"alert delay (live): median {d['median']} s, 90th percentile {d['p90']} s over {d['n']} cries",
             "recall by length: " + ", ".join(f"{k} s {v:.2f}" for k, v in rep["recall_by_length_s"].items()),
             "recall by level: " + ", ".join(f"{k} dBFS {v:.2f}" for k, v in rep["recall_by_level_dbfs"].items())]
    wa = rep.get("windows_alone")
    if wa:
        conf = [f.get("confirm_threshold") for f in rep["folds"]]
        lines.append(f"alerts confirmed by each fold's upload verdict (confirm at {conf}); the windows alone would give "
                     f"event F1 {wa['event_f1_onset']:.3f}, median delay {wa['median_delay_s']} s, false alerts/h "
                     + ", ".join(f"{b} {x:.2f}" for b, x in wa["false_alerts_per_hour"].items()))
    lo = rep.get("rule_left_out")
    if lo:
        top = sorted(lo["all_folds"]["f1"].items(), key=lambda kv: -kv[1])[:4]
        lines.append("onset fraction / threshold lift chosen with each fold left out "
                     + ", ".join(f"{k}: {c['onset_fraction']:g}/{c['lift']:g}" for k, c in lo["choices"].items())
                     + f": event F1 {lo['event_f1_onset']['f1']:.3f} (the honest figure), false alerts/h "
                     + ", ".join(f"{b} {x:.2f}" for b, x in lo["false_alerts_per_hour"].items())
                     + "; best on all folds " + ", ".join(f"{k}: {v:.3f}" for k, v in top))
    for k, v in rep["rule_variants"].items():
        lines.append(f"rule {k} {v['rule'] or ''}: event F1 {v['event_f1_onset']:.3f}, median delay {v['median_delay_s']} s, "
                     "false alerts/h " + ", ".join(f"{b} {x:.2f}" for b, x in v["false_alerts_per_hour"].items()))
    for k, v in rep.get("speed", {}).items():
        if not k.startswith("startup"):
            lines.append(f"detect {k} ({v.get('engine', 'torch')}): {v['wall_s']} s for {v['duration_s'] / 3600:.1f} h = {v['x_real_time']}x real "
                         f"time; peak RSS {v['peak_rss_mb']} MB (private {v['peak_private_mb']} MB)")
    lines.append("targets met: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in rep["met"].items()))
    return "\n".join(lines)
