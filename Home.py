"""babycry home: what the app does and does not do, the trained models, the data, and the pages.

Kept fast: no model is loaded and nothing here imports torch or TensorFlow (run metadata and manifests only).
"""
import streamlit as st

from babycry_core.ui import home_view as V

st.set_page_config(page_title="babycry", page_icon="👶", layout="wide")
V.intro()
V.pages()
V.models()
V.data_summary()
