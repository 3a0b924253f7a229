"""Everything that talks to MLflow: the store, run tags and the Lightning logger, the Model Registry,
sweep parent runs, and queries that select runs."""

BEST_METRIC = "best_val_acc"  # what the train entry point returns, and sweepers maximise
