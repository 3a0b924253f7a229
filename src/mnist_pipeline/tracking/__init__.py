"""Everything that talks to MLflow: the store, run tags and the Lightning logger, the Model Registry,
sweep parent runs, and queries that select runs."""

# Plain names here, so that commands read them before --help without importing MLflow.
BEST_METRIC = "best_val_acc"  # what the train entry point returns, and sweepers maximise
CHAMPION = "champion"  # the registry alias of the best version of a registered model
CHALLENGER = "challenger"  # the alias of the latest version that did not beat the champion
