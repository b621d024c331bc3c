"""babycry_core: audio → log-mel → model → calibrated prediction, shared by the CLI, the pages and the tests."""
