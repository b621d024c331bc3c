"""Corpora: specs, linking or cloning them, manifests, grouped splits and folds, derived corpora."""
