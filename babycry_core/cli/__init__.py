"""The command line: `python -m babycry_core ...`."""
