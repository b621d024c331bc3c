"""Run folders: the registry and launcher, the one writer, weights, checkpoints, model cards, embeddings of runs, export."""
