"""Streamlit helpers shared by the pages: plots and small widgets (no ML logic)."""
