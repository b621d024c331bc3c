"""The model card's section for a detector's upload verdict (inference/clip_verdict.py): its two thresholds, how
they were chosen, the fixed split's test figures per kind, and why it ships (`bench upload`'s grouped folds)."""
from __future__ import annotations

from pathlib import Path

from babycry_core import fileio, paths
from babycry_core.runs.run_folder import RunFolder


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"


def kind_table(by_kind: dict) -> list[str]:
    lines = ["| kind | recordings | crying | not sure | not a cry |", "|---|---|---|---|---|"]
    for k in sorted(by_kind, key=lambda k: (k not in ("cry", "quiet_cry"), k)):
        d = by_kind[k]
        if d.get("n"):
            lines.append(f"| {k} | {d['n']} | {_pct(d['crying'])} | {_pct(d['unsure'])} | {_pct(d['no_cry'])} |")
    return lines


def verdict_section(run_dir: Path | RunFolder) -> str:
    """Markdown for a run with an upload verdict ("" for one without)."""
    folder = RunFolder.of(run_dir)
    v = folder.read(RunFolder.VERDICT, default={})
    if not v:
        return ""
    fit = v.get("fit", {})
    lines = ["", "## The upload answer: crying, not sure, or not a cry", "",
             "Classify, `predict` and the API answer a whole recording with the upload verdict: YAMNet's patch "
             "sequence over up to 10 s (level-normalised, 4 kHz band), pooled (the embeddings' mean, max and spread, "
             "and YAMNet's crying, laughing, babbling and speech scores weighed against each other), then a "
             f"multinomial logistic regression: P(cry), P(laugh), P(other). It answers **crying** at P(cry) >= "
             f"**{v['cry_threshold']:.3f}**, **not sure** (it may be laughing, babbling or fussing) down to "
             f"**{v['lo_threshold']:.3f}**, else **not a cry**; a reason is given only for crying. Thresholds from "
             f"validation recordings ({fit.get('validation_recordings')} and {fit.get('quiet_cries')} cries at "
             f"{fit.get('quiet_dbfs')} dBFS; rule: {fit.get('rule')}). Trained on {fit.get('train_rows')} contexts "
             f"({fit.get('train_rows_per_class')}), AudioSet's laughing babies and belly laughs included (the audio "
             "is not in this folder). The 2 s windows (above) still draw the timeline and serve Listen and `detect`."]
    m = folder.metrics.get("upload")
    if m:
        ci = m["crying_f1_ci"]
        lines += ["", f"Test part of the fixed split (`{RunFolder.SPLIT}`; {m['n']} recordings, "
                  f"{m['n_uncertain']} uncertain same-app uploads apart): F1 of 'crying' {m['crying_f1']:.3f} "
                  f"[{ci[0]:.3f}, {ci[1]:.3f}], "
                  f"recall {m['recall']:.3f}, precision {m['precision']:.3f}.", ""] + kind_table(m["by_kind"])
    rep = fileio.read_json(paths.results_dir() / "upload_answer.json", default={})
    r = (rep.get("models") or {}).get("verdict")
    if r:
        lines += ["", f"Why this one: on the grouped 5-fold benchmark (`python -m babycry_core bench upload`, every "
                  f"recording tested once) the same recipe scores F1 of 'crying' {r['crying_f1']:.3f} "
                  f"[{r['crying_f1_ci'][0]:.3f}, {r['crying_f1_ci'][1]:.3f}]"]
        for a, d in (rep.get("lead_over_anchors") or {}).items():
            lines[-1] += (f"; {d['point']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] over {a}")
        lines[-1] += (f"; cries answered crying {_pct(r['by_kind']['cry']['crying'])}, not a cry "
                      f"{_pct(r['by_kind']['cry']['no_cry'])}; laughing babies answered crying "
                      f"{_pct(r['by_kind'].get('baby_laughter', {}).get('crying'))}. See docs/benchmarks.md.")
    return "\n".join(lines + monitor_lines(v.get("monitor"))) + "\n"


def monitor_lines(m: dict | None) -> list[str]:
    """The monitor's alert rule (detection/monitor_rule.py) and its validation-night table."""
    if not m:
        return []
    t = m["confirm_threshold"]
    lines = ["", "## The monitor's alert: Listen and `detect`", "",
             ("The windows find a crying spell and date its start; the alert goes up only once the upload verdict, "
              f"hearing the spell so far (at most its last {m['confirm_seconds']:g} s), gives P(cry) >= **{t:.2f}** "
              f"(asked again every {m['recheck_seconds']:g} s while the spell lasts)." if t is not None else
              "The windows alone raise the alert: no confirmation threshold did better on the validation nights."),
             f"Chosen on validation nights ({m['nights']['cry_hours']} h with {m['nights']['cries']} cries, "
             f"{m['nights']['background_hours']} h of backgrounds alone, from {m.get('validation_recordings')} "
             f"validation recordings; rule: {m['rule']}){'. ' + m['note'] if m.get('note') else ''}:", "",
             "| confirm at | event F1 | cries found | median delay (s) | worst false alerts / h | on |",
             "|---|---|---|---|---|---|"]
    for k, r in m["validation"].items():
        fa = r["false_alerts_per_hour"]
        worst = max(fa, key=fa.get) if fa else "–"
        mark = " (kept)" if k == m["kept"] else ""
        lines.append(f"| {k}{mark} | {r['event_f1']} | {_pct(r.get('cries_found'))} | {r['median_delay_s']} | "
                     f"{r['worst_false_alerts_per_hour']} | {worst} |")
    return lines
