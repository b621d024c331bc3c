"""Helpers for the Streamlit pages: plotly figure builders and small shared page helpers. No ML logic here.

    audio_plots  waveform, spectrogram (+ saliency overlay), probability bars, window timeline (Classify)
    answer_view  the two-step answer: step 1 / step 2 sentences, cry-probability timeline, reasons vs prior (Classify)
    cry_plots    no-cry figures of runs and the `bench cry` table and chart (Compare)
    app_state    cached model loading, run lists, page links and shared notices (every page)
    run_plots    training curves and leaderboards (Train / Compare)

Importing this package imports nothing heavy; pages import the submodule they need.
"""
