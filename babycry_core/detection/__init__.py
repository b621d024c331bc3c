"""Crying over time: windows scored in batches, episodes with hysteresis, whole recordings, live listening."""
