"""The MLflow store."""

import os
import subprocess
import sys
import time

import mlflow

from conftest import compose_config, mlflow_client
from mnist_pipeline.tracking import store


def test_default_store_is_absolute_at_project_root(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").touch()
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpx"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    assert store.tracking_uri(compose_config()) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert store.tracking_uri(compose_config()) == "http://127.0.0.1:5000"


def test_artifacts_live_beside_the_sqlite_store(tmp_path):
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db", "tracking.experiment_name=e"])
    experiment_id = store.setup(cfg)
    assert store.setup(cfg) == experiment_id  # idempotent
    location = mlflow.get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "mlruns").as_uri()


CONNECT_AT_ONCE = """
import sys, time
from omegaconf import OmegaConf
from mnist_pipeline.tracking import store
cfg = OmegaConf.create({"tracking": {"tracking_uri": sys.argv[1], "experiment_name": "e"}})
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # every process opens the store at the same moment
store.setup(cfg)
"""


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    # Unlocked, all but one fail with "table experiments already exists" (or "database is locked").
    uri = f"sqlite:///{tmp_path}/new.db"
    start = time.time() + 8  # after every process has imported mlflow
    workers = [subprocess.Popen([sys.executable, "-c", CONNECT_AT_ONCE, uri, str(start)], stderr=subprocess.PIPE,
                                text=True) for _ in range(4)]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, "\n".join(errors)[-3000:]
    assert len(mlflow_client(uri).search_experiments(filter_string="name = 'e'")) == 1


def test_mlflow_telemetry_is_off_before_mlflow_starts_it():
    # Its thread races requests to a tracking server over os.environ (see mnist_pipeline/__init__.py).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "MLFLOW_DISABLE"))}
    probe = ("import mnist_pipeline.compare\nfrom mlflow.telemetry.client import get_telemetry_client\n"
             "print(get_telemetry_client())")
    assert subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=120).stdout.strip() == "None"


def test_the_experiment_is_a_training_experiment(tmp_path):
    """So that the MLflow UI opens it on its runs, not on the GenAI overview."""
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db", "tracking.experiment_name=e"])
    experiment_id = store.setup(cfg)
    assert mlflow.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    old = mlflow.create_experiment("made-before")  # a store from before the kind was recorded
    cfg.tracking.experiment_name = "made-before"
    assert store.setup(cfg) == old
    assert mlflow.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_second_store_in_the_same_process_is_its_own(tmp_path):
    # MLflow exports the URI it is given as MLFLOW_TRACKING_URI; taken for the user's choice, it
    # would send every later connect in this process to the first store.
    first, second = (compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/{name}.db"]) for name in "ab")
    store.connect(first)
    assert store.connect(second) == f"sqlite:///{tmp_path}/b.db" == mlflow.get_tracking_uri()
    assert "MLFLOW_TRACKING_URI" not in os.environ
