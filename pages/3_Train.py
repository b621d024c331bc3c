"""Train a model in a background process and watch it learn; every run is read back from its folder,
so runs survive reloads, other tabs and restarts of the app."""
import streamlit as st

from babycry_core.app import catalog
from babycry_core.ui import train_view as tv

st.set_page_config(page_title="Train · babycry", layout="wide")
st.title("Train a model")
st.caption("Training runs in its own process: you can leave this page, reload it or close the tab. "
           "Finished runs appear at once on the Classify and Compare pages.")

launched = tv.launch_form()  # (TrainConfig, cross-validate?) when Launch was pressed
if launched is not None:
    tv.launch(launched)  # returns at once; the run writes its own folder

all_runs = catalog.runs()  # never cached: the folders are the truth
st.subheader("Progress")
watched = tv.choose_run(all_runs)
if watched is not None:
    tv.follow(watched)

st.subheader("All runs")
tv.all_runs_table(all_runs)
