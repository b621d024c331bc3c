"""Names of recording kinds that the scores treat apart: one owner for eval, data and the benchmarks (imports
nothing, so the data layer may take them without pulling in the metrics)."""

UNCERTAIN = ("same_app_uncertain",)  # same-app uploads where YAMNet hears a baby's voice: scored apart, never as clean negatives
