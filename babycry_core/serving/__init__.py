"""The HTTP API (FastAPI) and its last line of defence against errors."""
