"""The one feature front end (FeatureConfig, log_mel), handcrafted features and YAMNet's front end and embedder."""
