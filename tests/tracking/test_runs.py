"""Run params and names."""

import re

from conftest import compose_config
from mnist_pipeline.tracking import runs


def test_flatten():
    assert runs.flatten({"a": {"b": 1, "c": {"d": [2]}}, "e": 3}) == {"a.b": 1, "a.c.d": [2], "e": 3}


def test_run_names_say_what_ran_and_differ(tmp_path):
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db"])
    names = {runs.descriptive_run_name(cfg) for _ in range(20)}
    assert len(names) == 20  # unique even with the same seed and config
    assert all(re.fullmatch(r"FastCNN-mnist-[0-9a-f]{6}", name) for name in names), names
    recipe = compose_config(["experiment=deep_mnist"])
    assert runs.descriptive_run_name(recipe).startswith("deep_mnist-mnist-")


def test_a_sweep_job_is_named_by_its_number_and_overrides():
    tags = {"hydra_job_num": "3", "hydra_overrides": "optimizer.lr=0.003 model.dropout=0.2"}
    assert runs.job_run_name(tags) == "job-3 optimizer.lr=0.003 model.dropout=0.2"
    assert runs.job_run_name({"hydra_job_num": "0", "hydra_overrides": ""}) == "job-0"
    long = runs.job_run_name({"hydra_job_num": "1", "hydra_overrides": "x=" + "9" * 300})
    assert len(long) == 120 and long.startswith("job-1 x=99") and long.endswith("…")
