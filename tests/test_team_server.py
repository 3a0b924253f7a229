"""The team's tracking server (make server): MLflow on PostgreSQL with served artifacts, started
by the project's own script on free local ports. Sweeps reach it with nothing but
MLFLOW_TRACKING_URI set; two started at once both complete and share an Optuna study kept in the
same PostgreSQL; `dvc repro` registers its model there; a restarted server still has every run."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import optuna
import pytest

from conftest import ROOT, mlflow_client, tiny_data_yaml, tiny_overrides

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

SCRIPT = ROOT / "scripts" / "tracking_server.sh"
HAS_POSTGRES = bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
if not HAS_POSTGRES and os.geteuid() != 0:  # as root, the script installs it (apt-get install postgresql)
    pytest.skip("PostgreSQL is not installed and, without root, cannot be installed here "
                "(apt-get install postgresql)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this venv's mlflow and python
    return {**env, **extra}


class Server:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.pg_port = folder, free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.optuna_storage = f"postgresql://mlflow@127.0.0.1:{self.pg_port}/optuna"

    def run(self, action: str) -> str:
        result = subprocess.run(["bash", str(SCRIPT), action], capture_output=True, text=True, timeout=300,
                                env=environment(SERVER_DIR=str(self.folder), SERVER_PORT=str(self.port),
                                                SERVER_PG_PORT=str(self.pg_port)))
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result.stdout

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/health", timeout=2)
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def server():
    # Not under pytest's temporary folder: as root, PostgreSQL runs as the `postgres` user, which
    # must reach its data folder, and pytest's is closed to other users.
    folder = Path(tempfile.mkdtemp(prefix="tracking-server-"))
    folder.chmod(0o755)
    server = Server(folder / "server")
    try:
        printed = server.run("start")
        assert f"export MLFLOW_TRACKING_URI={server.url}" in printed
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(folder, ignore_errors=True)


def start_sweep(folder: Path, server: Server, study: str, seed: int, sweep_dir: str) -> subprocess.Popen:
    # The store comes from MLFLOW_TRACKING_URI alone: no tracking.tracking_uri override.
    overrides = [o for o in tiny_overrides(folder) if not o.startswith("tracking.tracking_uri")]
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_pipeline.train", "--config-path", str(folder / "conf"), "-m", *overrides,
         "hparams_search=small_cnn_optuna", f"hydra.sweeper.storage={server.optuna_storage}",
         f"hydra.sweeper.study_name={study}", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
         f"hydra.sweeper.sampler.seed={seed}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         f"hydra.sweep.dir={folder / sweep_dir}",
         "trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2"],
        cwd=folder, env=environment(MLFLOW_TRACKING_URI=server.url), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def test_two_sweeps_at_once_log_to_the_server_and_share_a_postgres_study(server, project):
    sweeps = [start_sweep(project, server, "team", seed, name) for seed, name in ((1, "a"), (2, "b"))]
    for sweep in sweeps:
        _, err = sweep.communicate(timeout=600)
        assert sweep.returncode == 0, err[-3000:]

    trials = optuna.load_study(study_name="team", storage=server.optuna_storage).get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3] and all(t.state.name == "COMPLETE" for t in trials)

    client = mlflow_client(server.url)
    runs = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    parents = [run for run in runs if run.data.tags.get("sweep_role") == "parent"]
    assert len(parents) == 2 and len(runs) == 6 and all(run.info.status == "FINISHED" for run in runs)
    for parent in parents:
        children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == 2
        for child in children:
            assert len(client.get_metric_history(child.info.run_id, "val_acc")) == 2
        # Artifacts go through the server (--serve-artifacts) into its folder.
        local = Path(client.download_artifacts(parent.info.run_id, "comparison/comparison.csv", str(project)))
        assert local.read_text().count("\n") == 3  # header and two jobs
    assert list((server.folder / "artifacts").rglob("comparison.csv"))


def test_a_restarted_server_has_the_same_runs(server, tmp_path):
    client = mlflow_client(server.url)
    experiment = client.create_experiment("restart")
    run = client.create_run(experiment).info.run_id
    client.log_metric(run, "m", 0.5)
    client.log_text(run, "kept", "note.txt")
    client.set_terminated(run)

    server.run("stop")
    assert not server.answers()
    server.run("start")
    client = mlflow_client(server.url)
    assert client.get_run(run).data.metrics == {"m": 0.5} and client.get_run(run).info.status == "FINISHED"
    assert Path(client.download_artifacts(run, "note.txt", str(tmp_path))).read_text() == "kept"


def test_dvc_repro_with_only_the_tracking_uri_set_registers_on_the_server(server, tmp_path, tiny_mirror):
    repo = tmp_path / "repo"
    for name in ["conf", "src", "dvc.yaml", ".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitignore"]:
        source, target = ROOT / name, repo / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    (repo / "conf" / "data" / "tiny.yaml").write_text(tiny_data_yaml(*tiny_mirror))
    env = environment(MLFLOW_TRACKING_URI=server.url)
    for command in (["git", "init", "-q"], [sys.executable, "-m", "mnist_pipeline.params", "data=tiny",
                                            "trainer.max_epochs=1", "tracking.experiment_name=repro"],
                    ["dvc", "repro"]):
        result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]

    assert not (repo / "mlflow.db").exists()  # nothing went to the default store
    client = mlflow_client(server.url)
    [run] = client.search_runs([client.get_experiment_by_name("repro").experiment_id])
    assert run.data.tags["dvc_stage"] == "train" and "test_acc" in run.data.metrics
    # evaluate's round trip: the model registered, loaded back from the server, scored the same.
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["registry_test_acc"] == pytest.approx(metrics["test_acc"], abs=1e-6)
    version = client.get_model_version_by_alias("tiny-classifier", "champion")
    assert version.run_id == run.info.run_id
