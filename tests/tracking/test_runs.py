"""Run params."""

from mnist_pipeline.tracking import runs


def test_flatten():
    assert runs.flatten({"a": {"b": 1, "c": {"d": [2]}}, "e": 3}) == {"a.b": 1, "a.c.d": [2], "e": 3}
