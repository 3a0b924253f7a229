"""Everything that talks to MLflow: the store, run tags and the Lightning logger, the Model Registry,
sweep parent runs, and queries that select runs."""
