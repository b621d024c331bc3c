"""The Compare page's sections, drawn from run folders and results/: the page picks the runs and calls these.

Each function draws one section with Streamlit (widget keys as the page always had them), so the page stays a
list of sections and the drawing lives in the package."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from babycry_core.app import bench, evidence
from babycry_core.ui import cry_plots as cp, run_plots as rp


def _all_rows(table) -> dict:
    """dataframe height that shows every row, no inner scroll."""
    return {"height": 35 * len(table) + 40}


def cry_questions(cry_runs, scored) -> None:
    """Cry vs no-cry, reason only and flat figures of the runs that can say "no cry"; by tag; per class."""
    st.subheader("Cry vs no-cry, reason only, all classes")
    cry_table = cp.cry_table(cry_runs).set_index("run").T
    st.dataframe(cry_table, **_all_rows(cry_table))
    others = [rp.run_label(r) for r in scored if not cp.is_cry_run(r)]
    st.caption("Each question on its own. **Cry vs no-cry**: is the answer a cry class (recall: cries caught; "
               "false alarms: non-cry clips answered as a cry). **Reason only**: on cry clips with a reason, the "
               "reason decision alone. **Flat**: the app's answer over every class. Brackets: 95 % intervals "
               "over groups (source recordings / babies), none when a figure rests on one group."
               + (f" Not shown for {', '.join(others)} (no cry metrics)." if others else ""))
    st.markdown("**By tag** (Donate-a-Cry clips): macro-F1 of the app's answers over the cry classes")
    if cp.has_tags(cry_runs):
        st.plotly_chart(cp.by_tag_figure(cry_runs), key="by_tag")
    else:
        st.caption("No test clip carries a Donate-a-Cry age or gender tag.")
    for r in cry_runs:
        st.markdown(f"**Per class · {rp.run_label(r)}**: metrics and the clips / groups they rest on")
        table = cp.per_class_table(r)
        st.dataframe(table, **_all_rows(table), column_config={
            k: st.column_config.NumberColumn(format="%.2f") for k in
            ("F1", "precision", "recall", "missed as no-cry", "false alarm as cry")})


def calibration(scored) -> None:
    """Reliability diagrams, coverage against accuracy and the calibration table, where the runs have them."""
    with_rel = [r for r in scored if r.metrics.get("reliability")]
    with_conf = [r for r in scored if rp.answers_of(r.metrics)]
    if not (with_rel or with_conf):
        return
    st.subheader("Calibration and abstention")
    left, right = st.columns(2)
    if with_rel:
        left.plotly_chart(rp.reliability_figure(with_rel), key="reliability")
        left.caption("Points on the diagonal mean a confidence of 70 % is right 70 % of the time. Legend: expected "
                     "calibration error before → after temperature scaling (lower is better).")
    if with_conf:
        right.plotly_chart(rp.coverage_figure(with_conf), key="coverage")
        right.caption("Accuracy on the clips answered as the “Not sure” threshold rises (fewer clips answered); "
                      "the star is the run's stored threshold.")
    st.dataframe(rp.calibration_table(scored).set_index("run").T)
    st.caption("Coverage: share of test clips answered (the rest get “Not sure”); selective accuracy: accuracy "
               "on those.")


def _audio_paths(scored) -> dict:
    """clip id → audio path, from the manifests of the runs' corpora."""
    return evidence.clip_paths(r.config.get("corpus", "donateacry") for r in scored)


def disagreements(scored, per_page: int = 10) -> None:
    """The test clips the runs disagree on (or all get wrong), a page at a time, each with its audio."""
    st.subheader("Where the models disagree")
    only = st.radio("Show clips where", ["any", "disagree", "all wrong"], horizontal=True,
                    format_func={"any": "they disagree or all are wrong", "disagree": "they disagree",
                                 "all wrong": "all are wrong"}.get)
    table = rp.disagreements(scored, only)
    if table.empty:
        st.caption("No such test clips among the runs chosen (runs on different splits share only their common clips).")
        return
    st.caption(f"{len(table)} test clips: {(table['why'] == 'disagree').sum()} where the models disagree, "
               f"{(table['why'] == 'all wrong').sum()} where all are wrong.")
    where = _audio_paths(scored)
    pages = (len(table) - 1) // per_page + 1
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, width=200) if pages > 1 else 1
    for _, row in table.iloc[(page - 1) * per_page: page * per_page].iterrows():
        answers = " · ".join(f"{n}: **{row[n]}**" + (" ✓" if row[n] == row["true"] else " ✗")
                             for n in table.columns[2:-1])
        text, player = st.columns([3, 2], vertical_alignment="center")
        text.markdown(f"true **{row['true']}** · {answers}")
        text.caption(f"{row['clip_id']} · {row['why']}")
        path = evidence.resolve_path(where[row["clip_id"]]) if row["clip_id"] in where else None
        if path is not None and path.is_file():
            player.audio(str(path))
        else:
            player.caption("audio file not found here")


def _bench_caption(cry_bench: dict) -> str:
    t = cry_bench.get("targets") or {}
    return ("Step 1 of the answer on its own: every recording of the detection corpus tested once over "
            f"{cry_bench.get('folds', '?')} grouped folds (by baby, source recording, speaker)"
            + (f", {cry_bench['n_recordings']} recordings in {cry_bench.get('n_groups', '?')} groups" if
               cry_bench.get("n_recordings") else "")
            + ". Brackets: 95 % intervals from resampling whole groups. False alarms: the share of each non-cry kind "
            "called a cry. Quiet recall: held-out cries turned down. Phone uploads: raw uploads scored by the fold "
            "model that never trained on their baby."
            + (f" Targets: F1 ≥ {t['f1']:.2f}, recall ≥ {t.get('recall', 0):.2f}, false alarms ≤ "
               + (", ".join(f"{v:.0%} on {k.replace('_', ' ')}" for k, v in t["false_alarms"].items())
                  if isinstance(t.get("false_alarms"), dict) else
                  f"{t.get('false_alarm_speech', 0):.0%} on speech and ≤ {t.get('false_alarm_other', 0):.0%} on the rest")
               + "." if "f1" in t else "")
            + (f" Written {cry_bench['date']} by `{cry_bench.get('command', 'bench cry')}`." if cry_bench.get("date")
               else ""))


def _report(path: Path, kind: str) -> dict | None:
    """A benchmark's JSON report, or None (missing, or unreadable: then a warning naming the command to rerun)."""
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError) as e:
        st.warning(f"{path} is unreadable ({type(e).__name__}); run `python -m babycry_core bench {kind}` again.")
        return None


def cry_benchmark(results: Path) -> None:
    """results/cry_detection.json (`bench cry`): the detector against its anchors, or how to make it."""
    st.subheader("Is it a cry?")
    cry_json = results / "cry_detection.json"
    cry_bench = _report(cry_json, "cry")
    if cry_bench and cry_bench.get("models"):
        names = bench.candidate_names()
        bench_table = cp.cry_bench_table(cry_bench, names).set_index("model").T  # models side by side
        st.dataframe(bench_table, **_all_rows(bench_table))
        st.plotly_chart(cp.cry_bench_figure(cry_bench, names), key="cry_bench")
        line = cp.detector_minus_anchor_text(cry_bench, names)
        if line:
            st.markdown(line)
        st.caption(_bench_caption(cry_bench))
    elif cry_bench is not None or not cry_json.is_file():
        st.info("No cry-detection benchmark yet. Produce it with `python -m babycry_core bench cry` (the cry detector "
                "against an SVM anchor and the two-stage gate on the same grouped folds; it writes "
                "results/cry_detection.json).")


def upload_answer(results: Path) -> None:
    """results/upload_answer.json (`bench upload`): the three-way answer users get, against its anchors."""
    from babycry_core.ui import upload_plots as up

    st.subheader("The answer you get: crying, not sure, or not a cry")
    rep = _report(results / "upload_answer.json", "upload")
    if not rep or not rep.get("models"):
        st.info("No upload benchmark yet. Produce it with `python -m babycry_core bench upload` (the shipped recipe "
                "and its anchors on grouped folds; it writes results/upload_answer.json).")
        return
    table = up.upload_table(rep).set_index("model").T  # models side by side
    st.dataframe(table, **_all_rows(table))
    st.plotly_chart(up.upload_figure(rep), key="upload_answer")
    st.caption(f"What Classify, `predict` and the API answer a whole recording, every recording tested once over "
               f"{rep.get('folds', '?')} grouped folds (the shipped run: on its own test part). 'Crying' on any kind "
               "but the cries is a false alarm; 'not sure' is neither. Uncertain same-app uploads may hold a baby's "
               f"voice and have no target. Written {rep.get('date', '?')} by `{rep.get('command', 'bench upload')}`.")


GAP_NOTE = ("**Honest vs leaky.** A random split puts recordings of the same baby in training and test, so the "
            "model recognises the baby rather than the reason; the grouped split keeps each baby on one side, "
            "and the gap between the two is how much a random split flatters a model.")


def leaderboard(results: Path) -> None:
    """results/leaderboard.json (or .md) from `bench accuracy`, with the grouped-vs-random gap."""
    st.subheader("Leaderboard")
    lb_json, lb_md = results / "leaderboard.json", results / "leaderboard.md"
    if not (lb_json.is_file() or lb_md.is_file()):
        st.info("No leaderboard yet. Produce it with `python -m babycry_core bench accuracy` "
                "(every model on every grouped fold, and on random folds for contrast).")
        st.markdown(GAP_NOTE)
        return
    try:
        board = json.loads(lb_json.read_text()) if lb_json.is_file() else None
    except (OSError, ValueError) as e:
        st.warning(f"{lb_json} is unreadable ({type(e).__name__}); showing the Markdown version if any.")
        board = None
    if board is not None:
        st.dataframe(rp.leaderboard_frame(board), hide_index=True)
        gap = rp.leaky_gap(board)
        if not gap.empty:
            st.dataframe(gap.round(3), hide_index=True)
    elif lb_md.is_file():
        st.markdown(lb_md.read_text())
    st.markdown(GAP_NOTE)
