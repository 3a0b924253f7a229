"""Results as files: classification metrics and the CSVs DVC plots, PNG plots, run comparison tables."""
