"""Foundations every other folder uses: the resolved config and its checks, the error types, atomic
file writes, the project root, and the runner that turns expected failures into one line."""
