"""The two-stage model's own sections of its card: cry vs no cry, reason only and end to end, flat, by tag,
per-stage calibration, the clip-length check and the generated signals (two_stage_section); and what the rest of
its card says of it (TwoStageCard: the two_stage family's `card`)."""
from __future__ import annotations

from babycry_core.runs.card_format import f as _f, mci as _mci
from babycry_core.runs.card_sections import CardSections, epochs_line
from babycry_core.runs.run_folder import RunFolder


class TwoStageCard(CardSections):
    unknown_cries = ", used by the gate only"
    calibration_paragraph = False  # two_stage_section has the per-stage calibration
    temperature = "temperatures"

    def describe(self, cfg: dict) -> str:
        return (f"Two-stage cry model (`{cfg.get('model')}`): a cry / laugh / noise / silence **gate** and a "
                f"cry-**reason** model, both the small CNN (`{cfg.get('stage_model')}`) on log-mel features, combined "
                "as P(reason) = P(cry) · P(reason | cry).")

    def pretrained(self, folder: RunFolder, cfg: dict) -> str | None:
        return "; ".join(f"{s}: {folder.stage(s).read(RunFolder.CONFIG, default={}).get('pretrained_status')}"
                         for s in RunFolder.STAGES)

    def training(self, cfg: dict) -> list[str]:
        return [epochs_line(cfg, " per stage")]

    def limitations(self, m: dict) -> list[str]:
        L = ["- The answer is the top class over all classes; a cry whose probability is spread over several reasons "
             "can lose to a single non-cry class (compare the two cry-detection rows above)."]
        ro = m.get("reason_only") or {}
        base_f1 = (ro.get("majority_baseline") or {}).get("macro_f1")
        if ro.get("macro_f1") is not None and base_f1 is not None and ro["macro_f1"] <= base_f1:
            L.append(f"- **The reason stage is not better than always answering '{ro['majority_baseline']['label']}'** "
                     f"(macro-F1 {ro['macro_f1']:.3f} vs {base_f1:.3f}): treat the reason as unknown; only the cry / "
                     "no-cry answer carries information.")
        return L


def two_stage_section(m: dict, cal: dict) -> list[str]:
    cd, cdp, ro, re2e, fl = (m.get(k, {}) for k in ("cry_detection", "cry_detection_gate", "reason_only",
                                                    "reason_end_to_end", "flat"))
    L = ["## Two-stage figures (95 % bootstrap intervals over groups, i.e. source recordings / babies)", ""]
    if cd:
        L += ["**Cry vs no cry** (cry = any cry class incl. cries without a reason; decided as the app does: the top "
              "class is a cry class):", "",
              f"- cry F1 {_mci(cd, 'f1')}; cry recall {_mci(cd, 'recall')}; precision {_mci(cd, 'precision')}",
              f"- false-alarm rate on non-cry clips {_mci(cd, 'false_alarm_rate')} "
              f"({cd.get('n_cry')} cry clips in {cd.get('groups_cry')} groups, {cd.get('n_non_cry')} non-cry clips in "
              f"{cd.get('groups_non_cry')} groups)",
              f"- decided as the gate would (P(cry) = sum over the reasons, against each non-cry class): F1 "
              f"{_mci(cdp, 'f1')}, recall {_mci(cdp, 'recall')}, false-alarm rate {_mci(cdp, 'false_alarm_rate')}",
              ""]
        if cd.get("per_class"):
            L += ["| class | clips (groups) | miss rate / false-alarm rate |", "|---|---|---|"]
            L += [f"| {c} | {r['clips']} ({r['groups']}) | " + (f"miss {_f(r['miss_rate'])} |" if "miss_rate" in r
                                                                  else f"false alarm {_f(r.get('false_alarm_rate'))} |")
                  for c, r in cd["per_class"].items()] + [""]
    if ro:
        rb = ro.get("majority_baseline") or {}
        L += [f"**Reason only** (cry clips with a reason; the reason decision alone, i.e. given a cry): macro-F1 "
              f"{_mci(ro, 'macro_f1')}, balanced accuracy {_mci(ro, 'balanced_accuracy')} on {ro.get('n')} clips / "
              f"{ro.get('groups')} babies; always-'{rb.get('label')}' baseline macro-F1 {_f(rb.get('macro_f1'))}.", "",
              f"**Reason end to end** (same clips, the app's full answer; a no-cry answer is a miss): macro-F1 "
              f"{_mci(re2e, 'macro_f1')}.", ""]
    if fl:
        L += [f"**Flat** (all {len(fl.get('classes', []))} classes; test holds "
              f"{', '.join(fl.get('classes_in_test', []))}): macro-F1 {_mci(fl, 'macro_f1')}, balanced accuracy "
              f"{_mci(fl, 'balanced_accuracy')}, accuracy {_mci(fl, 'accuracy')}.", ""]
    if m.get("by_tag"):
        L += ["**By tag** (Donate-a-Cry clips; reason macro-F1 of the app's answer / of the reason decision alone):",
              "", "| tag | value | clips (babies) | macro-F1 (app) | macro-F1 (reason alone) |",
              "|---|---|---|---|---|"]
        L += [f"| {tag} | {r['name']} | {r['clips']} ({r['groups']}) | {_mci(r, 'macro_f1')} | "
              f"{_mci(r, 'reason_macro_f1')} |" for tag, vals in m["by_tag"].items() for r in vals.values()] + [""]
    stt = cal.get("stage_temperatures", {})
    L += ["**Calibration** (temperature scaling per stage, each fit on its own validation clips; the combined vector "
          f"is not rescaled): T(gate) = {_f(stt.get('gate'))}, T(reason) = {_f(stt.get('reason'))} (fitted: "
          f"{cal.get('stage_temperatures_fitted')}); abstention threshold {_f(cal.get('threshold', 0))}; test ECE "
          f"{_f(m.get('ece_before'))} without the stage temperatures, {_f(m.get('ece_after'))} with them; answered "
          f"{_f(m.get('coverage'), '.1%')} of the test clips, accuracy on those {_f(m.get('selective_accuracy'))}.", ""]
    st = {s: r for s, r in (m.get("stages") or {}).items() if r.get("macro_f1") is not None}
    if st:
        L += ["**Each stage on its own test clips** (clip bootstrap, from the stage folders): " + "; ".join(
            f"{s} macro-F1 {_mci(r, 'macro_f1')} over {r.get('classes')}" for s, r in st.items()) + ".", ""]
    lc = m.get("length_check", {})
    share = {k: f"{lc[k]['answered_cry']:.1%}" if k in lc else "n/a"
             for k in ("cry_full", "cry_cut", "non_cry_padded", "non_cry_looped")}
    if lc.get("cry_full") or lc.get("non_cry_padded"):
        L += [f"**Clip-length check** (is the 5 s giulbia padding a cue?): test cries longer than {lc['seconds']:g} s "
              f"answered as cries {share['cry_full']} in full vs {share['cry_cut']} cut to {lc['seconds']:g} s "
              f"({lc.get('cry_full', {}).get('clips', 0)} clips); short non-cry test clips answered as cries "
              f"{share['non_cry_padded']} zero-padded vs {share['non_cry_looped']} looped to fill the window "
              f"({lc.get('non_cry_padded', {}).get('clips', 0)} clips).", ""]
    if m.get("generated_signals"):
        L += ["**Generated signals** (not in any split): " + "; ".join(
            f"{k} -> {r['label']} (P(cry) {r['p_cry']:.2f})" for k, r in m["generated_signals"].items())
            + "; digital silence is answered by the level check before the model.", ""]
    return L
