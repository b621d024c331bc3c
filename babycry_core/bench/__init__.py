"""Every benchmark (`python -m babycry_core bench ...`) and its report."""
