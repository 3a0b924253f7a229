"""MNIST-family digit classification as a reproducible DVC + Hydra + Lightning + MLflow pipeline."""
