"""MNIST-family digit classification as a reproducible DVC + Hydra + Lightning + MLflow pipeline."""

import os

# Before anything imports mlflow: its telemetry client starts a thread that, when it cannot reach
# its endpoint (offline), removes an environment variable while a request to a tracking server may
# be iterating os.environ, which fails that request with KeyError('_MLFLOW_TELEMETRY_SESSION_ID')
# (seen with 4 parallel sweep jobs on `make server`). Set MLFLOW_DISABLE_TELEMETRY=false to keep it.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
