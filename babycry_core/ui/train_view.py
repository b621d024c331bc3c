"""The Train page's sections: the launch form, one run's live progress, and every run's folder.

Each function draws one section with Streamlit (widget keys as the page always had them); the page calls them
in order. Nothing here trains: the form gives a TrainConfig, `app.train.launch` starts the process that trains it
and writes the run folder, and these read it."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from babycry_core import paths
from babycry_core.app import catalog, train
from babycry_core.app.train import TrainConfig
from babycry_core.ui import app_state, run_plots as rp

ACTIVE = ("launching", "running")
TROUBLE = ("failed", "stopped", "interrupted")
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def launch_form() -> tuple[TrainConfig, bool] | None:
    """The training form; (the TrainConfig, cross-validate?) when Launch was pressed, else None."""
    d = TrainConfig()
    with st.form("train"):
        c1, c2, c3 = st.columns(3)
        model = c1.selectbox("Model", catalog.model_names(), key="model")
        epochs = c1.number_input("Epochs", 1, 500, d.epochs, key="epochs")
        seed = c1.number_input("Seed", 0, 2**31 - 1, d.seed)
        lr = c2.select_slider("Learning rate", LEARNING_RATES, d.lr, format_func="{:g}".format)
        batch = c2.select_slider("Batch size", [8, 16, 32, 64, 128], d.batch_size, key="batch")
        mixup = c2.number_input("Mixup alpha (0 switches mixup off)", 0.0, 2.0, d.mixup, step=0.1)
        balance = c3.selectbox("Class balance", ["sampler", "loss", "none"], format_func={
            "sampler": "balanced sampling", "loss": "weighted loss", "none": "none"}.get)
        specaugment = c3.toggle("SpecAugment (time/frequency masks)", d.specaugment)
        pretrained = c3.toggle("Start from ImageNet weights", False, help="torchvision models only; needs the "
                               "internet the first time (the run says so if the download fails)")
        cv = st.radio("Evaluation", [False, True], horizontal=True, format_func=lambda v: (
            "grouped k-fold cross-validation (pooled metrics over the saved folds)" if v else "single grouped split"))
        with st.expander("More options"):
            corpus = st.selectbox("Corpus", catalog.corpora())
            patience = st.number_input("Early-stopping patience (epochs without a better validation macro-F1)",
                                       1, 500, d.patience, key="patience")
        if not st.form_submit_button("Launch", type="primary"):
            return None
    config = TrainConfig(model=model, corpus=corpus, epochs=int(epochs), lr=float(lr), batch_size=int(batch),
                         seed=int(seed), balance=balance, mixup=float(f"{mixup:g}"), patience=int(patience),
                         specaugment=bool(specaugment), pretrained=bool(pretrained))
    return config, bool(cv)


def choose_run(all_runs) -> Path | None:
    """The run to follow: the one just launched, else the first still going, else the newest. None without runs."""
    watchable = [r for r in all_runs if r.status != "corrupt"]
    if not watchable:
        st.info("No runs yet: launch one with the form above.")
        return None
    ids = [r.run_id for r in watchable]
    want = st.session_state.get("watch")
    first = ids.index(want) if want in ids else next((i for i, r in enumerate(watchable) if r.status in ACTIVE), 0)
    watch = st.selectbox("Run", ids, index=first, format_func=lambda i: f"{i} ({watchable[ids.index(i)].status})")
    st.session_state["watch"] = watch
    return paths.checkpoints_dir() / watch


def _progress_text(info, hist) -> tuple[float, str, int]:
    total = int(info.config.get("epochs") or (hist["epochs"].iloc[-1] if len(hist) else 0))
    done = int(hist["epoch"].iloc[-1]) if len(hist) else 0
    text = f"**{info.status}** · {rp.model_of(info)}" + (f" · epoch {done}/{total}" if total else "")
    if info.status in ACTIVE and done and total > done:
        text += f", about {hist['time'].mean() * (total - done) / 60:.1f} min left (early stopping may end it sooner)"
    return (min(done / total, 1.0) if total else 0.0), text, done


def _panel(run_dir: Path, active_before: bool) -> None:
    """Progress bar, curves and the outcome of one run, read from its folder."""
    info, events = catalog.run_info(run_dir), catalog.events(run_dir)
    hist = rp.history_frame(events)
    fraction, text, done = _progress_text(info, hist)
    st.progress(fraction, text=text)
    if info.status in ACTIVE and not done:
        st.caption("Preparing (computing features, building the model)…")
    if len(hist):
        st.plotly_chart(rp.training_curves({info.run_id: events}), key="live_curves")
    if info.status == "finished" and info.metrics:
        b = info.metrics.get("baseline", {}).get("macro_f1")
        st.success(f"Finished: test macro-F1 {info.macro_f1:.3f}" + (f" (majority baseline {b:.3f})" if b is not None
                                                                    else "") + ". It is ready on Classify and Compare.")
        app_state.page_link(app_state.find_page("compare"), "Compare it with other runs", icon=":material/bar_chart:")
    elif info.status in TROUBLE:
        st.warning(f"{info.status}: {info.message or 'see the log below'}")
        st.code(train.log_tail(run_dir) or "(empty log)", language=None)
    if active_before and info.status not in ACTIVE:
        st.rerun()  # the run just ended: redraw the whole page (list, Stop button)


def follow(run_dir: Path) -> None:
    """A Stop button while the run goes, and its panel, polled every 2 s only while it is going."""
    if catalog.run_info(run_dir).status in ACTIVE:  # the callback runs before the rerun: the page then shows "stopped"
        st.button("Stop", key="stop", on_click=train.stop, args=(run_dir,), help="ends the run after the current "
                  "batch; the best weights so far are kept and evaluated")
        st.fragment(run_every=2)(_panel)(run_dir, True)
    else:
        _panel(run_dir, False)


def all_runs_table(all_runs) -> None:
    """Every run folder, with the last lines of the log of each that failed, stopped or cannot be read."""
    if not all_runs:
        st.caption(f"No run folders in {paths.checkpoints_dir()} yet.")
        return
    st.dataframe(rp.runs_table(all_runs), hide_index=True)
    for r in all_runs:
        if r.status in TROUBLE or r.status == "corrupt":
            with st.expander(f"{r.run_id}: {r.status} — last lines of its log"):
                st.caption(r.message)
                st.code(train.log_tail(r.path) or "(empty log)", language=None)


def launch(launched: tuple[TrainConfig, bool]) -> None:
    """Start the form's run in its own process (it returns at once) and follow it."""
    config, cv = launched
    run_dir = train.launch(config, cv=cv)
    st.session_state["watch"] = run_dir.name
    st.success(f"Launched {run_dir.name}.")
