"""Compare trained runs side by side: metrics with intervals, the separate no-cry / reason / nine-class figures of
runs that can say "no cry", confusion matrices, curves, calibration and coverage, the clips the models disagree
on, the cry-detection benchmark (is it a cry?) and the benchmark leaderboard. Everything is read from run folders."""
import streamlit as st

from babycry_core.app import catalog
from babycry_core.ui import app_state, compare_view as cv, cry_plots as cp, run_plots as rp

st.set_page_config(page_title="Compare · babycry", layout="wide")
st.title("Compare models")

usable, corrupt = app_state.usable_runs()  # read fresh on every rerun: a run that just finished shows up at once
app_state.corrupt_runs_warning(corrupt)
finished = {r.run_id: r for r in usable}
if not finished:
    app_state.no_checkpoint_notice()
    st.stop()

chosen_ids = st.multiselect("Runs to compare (two or more)", list(finished), default=list(finished)[:2],
                            format_func=lambda i: app_state.run_title(finished[i]))
chosen = [finished[i] for i in chosen_ids]
if not chosen:
    st.info("Choose at least one run above.")
    st.stop()
if len(chosen) < 2:
    st.caption("Only one run chosen: pick another to see them side by side.")
no_metrics = [r.run_id for r in chosen if not r.metrics]
if no_metrics:
    st.warning(f"No test metrics for {', '.join(no_metrics)} (metrics.json missing): "
               "run `python -m babycry_core evaluate RUN` to write them.")
scored = [r for r in chosen if r.metrics]

st.subheader("Test metrics")
st.dataframe(rp.metrics_table(chosen, rp.bench_latency(catalog.results_dir())).set_index("run").T)  # runs side by side
st.caption("Brackets: 95 % bootstrap intervals over test clips. The majority baseline always answers the most "
           "frequent class; a model must beat its macro-F1, not its accuracy. Latency comes from "
           "`python -m babycry_core bench speed` (— when not measured).")
if scored:
    st.plotly_chart(rp.per_class_bars(scored), key="per_class")

cry_runs = [r for r in scored if cp.is_cry_run(r)]
if cry_runs:
    cv.cry_questions(cry_runs, scored)

if scored:
    st.subheader("Confusion matrices")
    normalised = st.toggle("Normalise by true class", value=True)
    for col, r in zip(st.columns(len(scored)), scored):
        with col:
            st.plotly_chart(rp.confusion_figure(r.metrics, normalised, title=rp.run_label(r)), key=f"cm_{r.run_id}")

st.subheader("Training curves")
st.caption("Solid: training, dashed: validation.")
st.plotly_chart(rp.training_curves({rp.run_label(r): catalog.events(r.path) for r in chosen}), key="curves")

cv.calibration(scored)
cv.disagreements(scored)
results = catalog.results_dir()  # the benchmarks' reports
cv.upload_answer(results)
cv.cry_benchmark(results)
cv.leaderboard(results)
