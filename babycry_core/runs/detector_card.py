"""The cry detector's model card: the general card (model_card.py) plus what the detector is judged on,
recording by recording: cry F1, recall, false alarms per kind, quiet cries, and the grouped-fold benchmark."""
from __future__ import annotations

from pathlib import Path

from babycry_core import fileio, paths
from babycry_core.runs.model_card import write_model_card
from babycry_core.runs.run_folder import RunFolder


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def detector_section(run_dir: Path | RunFolder) -> str:
    folder = RunFolder.of(run_dir)
    m = folder.metrics.get("cry", {})
    cal = folder.read(RunFolder.CALIBRATION, default={})
    lines = ["", "## Is it a cry? (whole recordings)", "",
             f"Decision: the mean cry probability of the recording's most cry-like third of 2 s windows >= "
             f"**{cal.get('cry_threshold', 0.5):.3f}**, chosen on validation recordings ({cal.get('rule', '')}; "
             f"validation recall {_fmt(cal.get('val_recall'))}, false alarms {_fmt(cal.get('val_false_alarm_rate'))}). "
             "Digital silence is answered before the model runs."]
    lines += fusion_lines(folder)
    if m:
        ci = m.get("f1_ci", [None, None])
        lines += ["", f"Test part of the fixed split ({m.get('n_cry')} cries from {m.get('groups_cry')} babies / "
                  f"recordings, {m.get('n_non_cry')} other recordings from {m.get('groups_non_cry')} sources): "
                  f"cry F1 {_fmt(m.get('f1'))} [{_fmt(ci[0])}, {_fmt(ci[1])}], recall {_fmt(m.get('recall'))}, "
                  f"precision {_fmt(m.get('precision'))}; cries turned down to {m.get('quiet_dbfs')} dBFS: "
                  f"recall {_fmt(m.get('quiet_recall'))}.", "", "| kind | recordings | sources | called a cry |",
                  "|---|---|---|---|"]
        for c, d in sorted(m.get("per_class", {}).items()):
            rate = d.get("false_alarm_rate", None if "miss_rate" not in d else 1 - d["miss_rate"])
            lines.append(f"| {c} | {d['clips']} | {d['groups']} | {_fmt(rate)} |")
    bench = paths.results_dir() / "cry_detection.json"
    if bench.exists():
        r = fileio.read_json(bench)["models"].get(bench_row(folder))
        if r:
            lines += ["", f"Grouped 5-fold benchmark (`python -m babycry_core bench cry`, pooled): cry F1 "
                      f"{_fmt(r['f1'])} [{_fmt(r['f1_ci'][0])}, {_fmt(r['f1_ci'][1])}], recall {_fmt(r['recall'])}, "
                      f"false alarms " + ", ".join(f"{k} {_fmt(v)}" for k, v in r["false_alarms"].items())
                      + f"; quiet recall {_fmt(r['quiet_recall'])}; phone uploads called a cry "
                      f"{r['uploads_called_cry']} of {r['uploads_scored']}. See docs/benchmarks.md."]
    lines += ["", "Limits: laughing rests on two home recordings and silence on a few recordings plus generated rooms; "
              "speech is FSDD's six men and speechocean762's women, men and children reading English; household and "
              "street sounds are ESC-50 and UrbanSound8K clips; the same-app non-cry uploads were labelled by "
              "listening and a few may still hold fussing."]
    return "\n".join(lines) + "\n"


def _fusion(run_dir: Path | RunFolder) -> dict:
    """A fused run's fusion.json ({} for a plain CNN detector)."""
    return RunFolder.of(run_dir).read(RunFolder.FUSION, default={})


def bench_row(run_dir: Path | RunFolder) -> str:
    """The `bench cry` row (results/cry_detection.json) of this kind of detector: cry_detector for the CNN alone,
    else the fusion mode's candidate (mode "head" is the yamnet_windows row)."""
    mode = _fusion(run_dir).get("mode")
    return "cry_detector" if mode is None else {"head": "yamnet_windows"}.get(mode, mode)


def fusion_lines(run_dir: Path | RunFolder) -> list[str]:
    """A fused run's YAMNet side: what it is, its weights, and why it is the default (bench cry's figures)."""
    f = _fusion(run_dir)
    if not f:
        return []
    w = f.get("weights", [0, 0, 0])
    out = ["", "## YAMNet's ear (fused)", "",
           (f"Mode **{f['mode']}**: each 2 s window's P(cry) = sigmoid({w[0]:.3f} x logit CNN P(cry) + {w[1]:.3f} x "
           f"head logit + {w[2]:.3f} x logit YAMNet's own cry score + {f.get('bias', 0):.3f}); windows the CNN scores "
           f"below {f.get('screen') or 0:.3f} skip YAMNet (P(cry) 0)."
           if f["mode"] == "fusion" else f"Mode **{f['mode']}** (inference/cry_fusion.py).")
           + f" The head is a logistic regression on frozen YAMNet window features ({f.get('fit', {}).get('head_windows')} "
           f"training windows, augmented copies included); the fusion and the clip threshold "
           f"**{f['cry_threshold']:.3f}** were fitted on validation recordings neither network trained on. YAMNet: "
           f"`{f.get('yamnet_model_key')}` (Google, Apache-2.0; not in this folder: `data link` fetches it). "
           "Without it the run answers as its CNN alone, with the CNN's own threshold, and the app says so."]
    rep = fileio.read_json(paths.results_dir() / "cry_detection.json", default={})
    r, win = (rep.get("models") or {}).get(bench_row(run_dir)), rep.get("winner") or {}
    if r:
        out += ["", f"Why this one: on the grouped 5-fold benchmark (`bench cry`, grown corpus) the {f['mode']} "
                f"candidate scores cry F1 {_fmt(r['f1'])} [{_fmt(r['f1_ci'][0])}, {_fmt(r['f1_ci'][1])}], recall "
                f"{_fmt(r['recall'])}, quiet recall {_fmt(r['quiet_recall'])}"
                + (f"; the best candidate is {win.get('model')}" if win.get("model") else "") + ". See docs/benchmarks.md."]
    return out


def write_detector_card(run_dir: Path | RunFolder) -> Path:
    folder = RunFolder.of(run_dir)
    card = write_model_card(folder.path)
    from babycry_core.runs.verdict_card import verdict_section

    text = card.read_text() + detector_section(folder) + verdict_section(folder)
    return fileio.atomic_write(card, lambda f: f.write(text), mode="w")
