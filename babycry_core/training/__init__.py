"""Training: one entry point (fit), the one epoch loop, each family's hooks, the detector's trainer, CV, torchrun, job backends."""
