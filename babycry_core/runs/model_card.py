"""MODEL_CARD.md for any run folder: what the model is, what it was trained and tested on, how well it does (95 %
intervals, next to the majority baseline), and what it cannot be trusted for.

Written from the run's own files (read through runs.run_folder.RunFolder: its config, labels, feature config,
calibration, metrics and status) and the corpus manifest (data.load_manifest); what is missing is said, never
guessed. What a family's card says of it (what the model is, its weights, how it was trained, its own limitations)
is its `Family.card` (runs.card_sections.CardSections; runs.family): every family works, and two_stage's
cry-detection, reason-only, flat, by-tag and per-stage figures get sections of their own.
`python -m babycry_core card RUN` (re)writes the card; two_stage's fit writes it as its last step.
"""
from __future__ import annotations

import time
from pathlib import Path

from babycry_core import fileio
from babycry_core.data import manifest as data
from babycry_core.data.corpora import CORPORA
from babycry_core.features.config import FeatureConfig
from babycry_core.runs.card_format import NAN, f as _f, mci as _mci
from babycry_core.runs.card_sections import CardSections
from babycry_core.runs.card_two_stage import two_stage_section
from babycry_core.runs.family import family_of
from babycry_core.runs.run_folder import RunFolder
from babycry_core.runs.train_config import train_command

WHEN = "%Y-%m-%d %H:%M %Z"
PARTS = ("train", "val", "test")
FEW_GROUPS = 10  # a class from fewer babies / recordings than this gets a limitation line of its own
GROUPING = {"uuid": "by baby (Donate-a-Cry app install)", "recording": "by source recording",
            "folder": "the whole class folder as one recording", "file": "each file on its own"}
SOURCES = {
    "donateacry": "**Donate-a-Cry** (cleaned, ODbL/DbCL): 8 kHz phone recordings of crying babies, one reason tag "
                  "each, set by the parent in the app. Grouped by app-install uuid (~ one baby).",
    "giulbia": "**giulbia/baby_cry_detection** (no licence stated; its noise and part of its cries are ESC-50 clips, "
               "CC BY-NC 3.0 — development use only): laugh, silence, noise, and cries without a reason "
               "(`cry_unknown`{unknown}). 16 kHz, 5 s windows; grouped by source recording (ESC-50 source id, or the "
               "home recording the window was cut from; silence is one recording).",
}


def _card(cfg: dict) -> CardSections:
    """The family's sections of the card (the defaults for a family this code does not know)."""
    found = family_of(cfg)
    return found.card if found is not None else CardSections()


def _model_files(folder: RunFolder, cfg: dict) -> list[str]:
    card, meta = _card(cfg), (RunFolder.CONFIG, RunFolder.LABELS, RunFolder.CALIBRATION, RunFolder.FEATURES)
    files = [f for f in cfg.get("files") or {} if Path(f).name not in meta] or [RunFolder.WEIGHTS]
    sizes = [(f, folder.file(f).stat().st_size) for f in files if folder.file(f).is_file()]
    each = ", ".join(f"{f} {s / 1024:,.1f} KiB" for f, s in sizes)
    weights = card.weights_note or (f"{sum(s for _, s in sizes) / 1024:,.1f} KiB ({each})" if sizes else
                                    "**no weights file found**")
    pre = card.pretrained(folder, cfg)
    return ["## Model files", "", f"- Pretrained: {pre or ('requested' if cfg.get('pretrained') else 'no')}",
            f"- Weights: {weights}", *_yamnet_source(cfg), ""]


def _yamnet_source(cfg: dict) -> list[str]:
    """Where a YAMNet-based run's AudioSet weights come from and their licence (they are never in the run folder)."""
    from babycry_core.features.yamnet import LICENCE

    emb = cfg.get("embedding_source") or {}
    if not (_card(cfg).yamnet_based or emb.get("kind") == "yamnet"
            or (cfg.get("features") or {}).get("frontend") == "yamnet"):
        return []
    import re

    found = re.search(r"\S+\.tflite#[0-9a-f]+", cfg.get("pretrained_status") or "")
    key = (cfg.get("yamnet") or emb.get("yamnet") or {}).get("model_key") or (found[0] if found else "")
    return [f"- YAMNet's AudioSet weights: {key or 'see ' + RunFolder.CONFIG}; Google's YAMNet (AudioSet, 521 classes), "
            f"{LICENCE}. Not stored in this folder: `python -m babycry_core data link` links or downloads "
            f"yamnet.tflite, or set BABYCRY_YAMNET."]


def _data(cfg: dict, labels: list, manifest, why: str | None) -> list[str]:
    corpus = cfg.get("corpus")
    L = ["## Data", ""]
    if manifest is None:
        return L + [f"Corpus `{corpus}`: the manifest is not available here ({why}); per-class counts unknown.", ""]
    unknown = _card(cfg).unknown_cries
    for src in sorted(set(manifest["source"].astype(str))):
        L.append("- " + SOURCES.get(src, f"`{src}`").format(unknown=unknown))
    summary = data.class_summary(manifest)
    src_of = manifest.groupby("label")["source"].agg(lambda s: ", ".join(sorted(set(map(str, s)))))
    gate_only = set((cfg.get("stages") or {}).get("gate", {}).get("cry_means", [])) - set(labels)
    L += ["", f"Corpus `{corpus}` (manifest as it is now): {len(manifest)} clips from {manifest['group'].nunique()} "
          "babies / source recordings.", "",
          "| class | clips | babies / source recordings | share | source | in the model |", "|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        use = "output class" if r.label in labels else "cry gate only" if r.label in gate_only else "not used"
        L.append(f"| {r.label} | {r.clips} | {r.groups} | {r.share:.1%} | {src_of.get(r.label, '?')} | {use} |")
    return L + [""]


def _split(cfg: dict, m: dict, corpus_spec) -> list[str]:
    card, protocol = _card(cfg), cfg.get("protocol", "grouped")
    how = "; ".join(f"{s.name} {GROUPING.get(s.grouping, s.grouping)}" for s in corpus_spec.sources) \
        if corpus_spec else "by group (the manifest's `group` column)"
    what = card.split(cfg)
    sizes = [cfg.get(f"n_{p}") for p in PARTS]
    L = ["## Split", "", f"{what}, made by group: {how}. "
         + ("**Random protocol (leaky)**: clips of one baby can sit on both sides, so the figures are optimistic; for "
            "comparison only." if protocol == "random" else "No baby and no recording has clips on two sides."), ""]
    L.append((f"Sizes: {sizes[0]} train / {sizes[1]} validation / {sizes[2]} test clips. " if any(sizes) else
              card.no_sizes(m)) + card.selection)
    gpc = m.get("groups_per_class", {})
    if gpc:
        L += ["", "| class | train clips (groups) | val clips (groups) | test clips (groups) |", "|---|---|---|---|"]
        L += [f"| {c} | " + " | ".join(f"{r.get(p + '_clips')} ({r.get(p + '_groups')})" for p in PARTS) + " |"
              for c, r in gpc.items()]
    return L + [""]


def _band(cfg: dict, fc: FeatureConfig, sources: set) -> list[str]:
    lo, hi = cfg.get("band_hz") or fc.band_hz
    L = ["## Feature band", "", f"The model sees {lo:g}-{hi:g} Hz: every input is resampled to {fc.sample_rate} Hz and "
         f"the mel bank ({fc.n_mels} bands) spans {fc.band_hz[0]:g}-{fc.band_hz[1]:g} Hz, in {fc.clip_seconds:g} s "
         "windows (longer recordings: half-overlapping windows, averaged).", "",
         "Why 0-4 kHz: Donate-a-Cry is recorded at 8 kHz, so nothing above 4 kHz exists in its clips; an upload at "
         "44.1 kHz reaches the model limited to the band it was trained on."]
    if "giulbia" in sources:
        L += ["", "giulbia is wideband 16 kHz: with the full band a model separates the *sources* (which device "
              "recorded it) instead of cry from no cry — a plain SVM scored 0.998 macro-F1 wideband against 0.94 "
              "band-limited on the same task. Limiting both sources to the band they share removes that shortcut."]
    if hi > 4000:
        L += ["", f"**This run sees up to {hi:g} Hz**: above 4 kHz only wideband recordings have content, so the "
              "band alone can tell the sources apart."]
    return L + [""]


def _training(cfg: dict) -> list[str]:
    L = ["## Training", "", *_card(cfg).training(cfg)]
    aug = cfg.get("augmentation") or {}
    if aug.get("applied"):
        L += ["", f"Noise augmentation, training part only: every {', '.join(aug.get('classes', []))} training clip "
              f"mixed with generated {' / '.join(aug.get('interferers', []))} at "
              f"{', '.join(f'{s:g}' for s in aug.get('snrs_db', []))} dB SNR (noise also at "
              f"{', '.join(f'{s:g}' for s in aug.get('dominant_snrs_db', []))} dB, interference dominating), and as "
              f"many cry clips likewise ({aug.get('copies')} copies in all: {aug.get('copies_per_label')}). Copies "
              "keep their recording's group; validation and test are never mixed. Clip length is decorrelated from the "
              "class in the same copies: short non-cry clips are looped to fill the window, the cry copies cut to "
              f"{aug.get('cut_matched_to_s') or 0:g} s and zero-padded ({aug.get('copies_by_length')})."]
    return L + [""]


def _metrics(cfg: dict, m: dict, cal: dict, run: str) -> list[str]:
    L = ["## Test figures", ""]
    if not m:
        return L + [f"**Test metrics are missing**: this run folder has no {RunFolder.METRICS} (the run may have "
                    f"stopped or failed before testing). `python -m babycry_core evaluate {run}` computes them.", ""]
    b = m.get("baseline") or {}
    L += [f"All {len(m.get('classes', []))} model classes, {m.get('n')} test clips; 95 % intervals: "
          + _card(cfg).interval,
          "",
          f"| metric | value [95 % interval] | majority baseline (always '{b.get('label')}') |", "|---|---|---|"]
    for k, name in (("macro_f1", "macro-F1"), ("balanced_accuracy", "balanced accuracy"), ("accuracy", "accuracy")):
        L.append(f"| {name} | {_mci(m, k)} | {_f(b.get(k))} |")
    f1, ci, base = m.get("macro_f1"), m.get("macro_f1_ci") or [NAN, NAN], b.get("macro_f1")
    if f1 is not None and base is not None:
        L += ["", "Macro-F1 " + ("beats the baseline: the whole interval lies above it." if ci[0] > base else
                                 "is above the baseline, but the interval reaches below it." if f1 > base else
                                 "is **not better than the baseline**.")
              + (" This figure mixes cry detection with the reason: see the two-stage figures below." if "reason_only"
                 in m else "")]
    cv = m.get("cv") or {}
    if cv:
        L += ["", "Per fold (mean ± std): " + ", ".join(f"{k} {_f(v.get('mean'))} ± {_f(v.get('std'))}"
                                                      for k, v in cv.items()) + "."]
    per = m.get("per_class") or {}
    if per:
        L += ["", "| class | precision | recall | F1 | test clips |", "|---|---|---|---|---|"]
        said = [sum(col) for col in zip(*m.get("confusion_matrix") or [])] or [None] * len(per)  # answers per class
        for (c, r), n in zip(per.items(), said):
            row = [_f(r.get(k)) for k in ("precision", "recall", "f1")] + [r.get("support")] if r.get("support") else \
                ["–"] * 3 + ["0: no test figure" + (f" (answered {n} times, always wrongly)" if n else "")]
            L.append(f"| {c} | " + " | ".join(map(str, row)) + " |")
    if "ece_before" in m and _card(cfg).calibration_paragraph:
        L += ["", f"**Calibration**: temperature {_f(cal.get('temperature'))} and abstention threshold "
              f"{_f(cal.get('threshold'))}, fit on validation; test ECE {_f(m.get('ece_before'))} before, "
              f"{_f(m.get('ece_after'))} after; answered {_f(m.get('coverage'), '.1%')} of the test clips "
              f"(the rest: \"not sure\"), accuracy on those {_f(m.get('selective_accuracy'))}."]
    return L + [""]


def _limitations(cfg: dict, labels: list, m: dict, manifest, sources: set) -> list[str]:
    card = _card(cfg)
    L = ["## Limitations", "",
         "- **Not a medical device.** It guesses from sound alone, with the accuracy above; it is no diagnosis and no "
         "substitute for looking after the baby — a cry that is unusual, will not settle, or comes with fever or "
         "other signs of illness needs a doctor."]
    if "donateacry" in sources:
        L.append("- Reason labels are what a parent tagged in the Donate-a-Cry app, never verified: the figures "
                 "measure agreement with those guesses.")
    gpc, per = m.get("groups_per_class") or {}, m.get("per_class") or {}
    if manifest is not None:
        counts = manifest[manifest["label"].isin(labels)].groupby("label").agg(clips=("clip_id", "size"),
                                                                              groups=("group", "nunique"))
        if len(counts) and counts["clips"].max() > 0.5 * counts["clips"].sum():
            top = counts["clips"].idxmax()
            L.append(f"- '{top}' is {counts['clips'].max() / counts['clips'].sum():.0%} of the model's clips: accuracy "
                     "mostly measures that class; read macro-F1 and balanced accuracy against the baseline.")
        for c, r in counts.iterrows():
            g, n_test = gpc.get(c), (per.get(c) or {}).get("support")
            n_test = g.get("test_clips") if g else n_test
            if r["groups"] >= FEW_GROUPS and (n_test is None or n_test >= FEW_GROUPS):
                continue
            who = f"{r['groups']} {'baby / recording' if r['groups'] == 1 else 'babies / recordings'}"
            where = (f" ({g.get('train_groups', 0)} in training, {g.get('test_groups', 0)} in the test part)" if g
                     else f"; {n_test} test clips" if n_test is not None else "")
            verdict = ("**no test figure exists for it**" if n_test == 0 else
                       "its test figures come from one recording" if g and g.get("test_groups") == 1 else
                       "its test figures rest on few babies / clips: wide intervals, indicative only")
            L.append(f"- **{c}**: {r['clips']} clips from {who} in the corpus{where}; {verdict}.")
    if "silence" in labels:
        from babycry_core.audio.signal import SILENCE_DBFS

        L.append(f"- Digital silence never reaches the model: inference answers it from the signal level (below "
                 f"{SILENCE_DBFS:g} dBFS) and says so" + ("; the 'silence' class is quiet-room hiss (one recording)."
                                                          if "giulbia" in sources else "."))
    if m.get("n") is not None:
        L.append(f"- {m.get('n')} test clips: the intervals are wide; a difference between two runs inside them is no "
                 "difference.")
    if "giulbia" in sources:
        L.append("- giulbia clips are 5 s long (zero-padded to the window) and non-cry clips come only from giulbia, "
                 "while most cries come from Donate-a-Cry phones: clip length and recording chain may still carry "
                 "information about the class beyond the band limit. Research and development data only "
                 "(giulbia/ESC-50 licences).")
    if cfg.get("protocol") == "random":
        L.append("- Random (leaky) protocol: the same baby appears in training and test; the figures are optimistic.")
    L += card.limitations(m)
    if m.get("ece_after") is not None and m.get("ece_before") is not None and m["ece_after"] > m["ece_before"]:
        no_val = [c for c, r in gpc.items() if c in labels and not r.get("val_clips")]
        L.append(f"- The {card.temperature}, fit on validation, made the test "
                 f"calibration worse (ECE {m['ece_before']:.3f} -> {m['ece_after']:.3f}): confidences are rough"
                 + (f"; the validation part has no {' and no '.join(no_val)} clips." if no_val else "."))
    return L + [""]


def card_text(run_dir: Path | RunFolder, command: str | None = None) -> str:
    """The card's Markdown (see module doc)."""
    folder = RunFolder.of(run_dir)
    cfg = folder.config
    labels = folder.read(RunFolder.LABELS, default=[])
    fc = FeatureConfig.from_dict(folder.read(RunFolder.FEATURES, default={}) or cfg.get("features") or {})
    m, cal, status = (folder.read(f, default={}) for f in (RunFolder.METRICS, RunFolder.CALIBRATION, RunFolder.STATUS))
    try:
        manifest, why = data.load_manifest(cfg.get("corpus")), None
    except (OSError, ValueError, KeyError, TypeError) as e:  # no manifest here: the card says so
        manifest, why = None, str(e)
    spec = CORPORA.get(cfg.get("corpus"))
    sources = set(manifest["source"].astype(str)) if manifest is not None else \
        {s.name for s in spec.sources} if spec else set()
    st, now = status.get("status", "unknown"), time.strftime(WHEN)
    best = f", best epoch {status['best_epoch']}" if status.get("best_epoch") else ""
    when = (f"Status {st} (trained {time.strftime(WHEN, time.localtime(status['ended']))}{best}, card written {now})."
            if status.get("ended") else f"Card written {now}, at the end of training." if st == "running" and m
            else f"Status {st} (card written {now}).")
    cmd = command or cfg.get("command") or train_command(cfg)
    from babycry_core.models.detector_net import DETECTOR_FEATURES

    # the features `train` gives this model by itself: a detector's come with its name (as_detector_config)
    given = DETECTOR_FEATURES if cfg.get("role") == "detector" else FeatureConfig()
    note = [] if FeatureConfig.from_dict(cfg.get("features") or {}) == given else \
        [f"# feature settings differ from the default (no CLI option): see {RunFolder.FEATURES}"]
    L = [f"# Model card: {folder.name}", "", _card(cfg).describe(cfg), "", when, "", "## Command", "", "```",
         f"python -m babycry_core data build --corpus {cfg.get('corpus')}   # manifest + grouped splits", cmd, *note,
         "```", ""]
    L += _model_files(folder, cfg) + _data(cfg, labels, manifest, why) + _split(cfg, m, spec) + _band(cfg, fc, sources)
    L += _training(cfg) + _metrics(cfg, m, cal, folder.name)
    if any(k in m for k in ("cry_detection", "reason_only", "flat", "by_tag")):
        L += two_stage_section(m, cal)
    return "\n".join(L + _limitations(cfg, labels, m, manifest, sources))


def write_model_card(run_dir: Path | RunFolder, command: str | None = None) -> Path:
    """Write (or overwrite) the run's MODEL_CARD.md; returns its path."""
    folder = RunFolder.of(run_dir)
    text = card_text(folder, command)
    return fileio.atomic_write(folder.file(RunFolder.CARD), lambda f: f.write(text), mode="w")
