"""End to end: the real dvc.yaml, conf/ and stage modules in a temporary git + DVC repository,
on a tiny MNIST served from a file:// mirror, logging to the default SQLite MLflow store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from mlflow import MlflowClient

from conftest import FILES, ROOT, mlflow_client, tiny_data_yaml, use_tests_recipe
from mnist_pipeline.data.archives import MIRROR_ENV, mirrors_used

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

PROJECT_FILES = ["conf", "src", "dvc.yaml", ".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitignore"]


def sh(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python` of this venv
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_mirror) -> Path:
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source, target = ROOT / name, root / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    (root / "conf" / "data" / "tiny.yaml").write_text(tiny_data_yaml(*tiny_mirror))
    use_tests_recipe(root / "conf")
    sh(root, "git", "init", "-q")
    sh(root, sys.executable, "-m", "mnist_pipeline.params", "data=tiny", "trainer.max_epochs=2")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "tiny project")
    return root


def store(repo: Path) -> MlflowClient:
    return mlflow_client(f"sqlite:///{repo}/mlflow.db")


@pytest.mark.smoke  # in `make test`'s quick loop
def test_dvc_repro_runs_everything_then_nothing(repo, monkeypatch):
    # What MLflow's pyfunc loader does on a GPU machine: evaluate's check that the registered model
    # loads back must still work there.
    monkeypatch.setenv("MLFLOW_DEFAULT_PREDICTION_DEVICE", "cuda")
    sh(repo, "dvc", "repro")

    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["test_acc"] > 0.5
    assert metrics["registry_test_acc"] == pytest.approx(metrics["test_acc"], abs=1e-6)
    assert metrics["model_version"] == 1 and metrics["champion"] is True
    for plot in ("confusion.csv", "learning_curves.csv", "confusion_matrix.png", "learning_curves.png",
                 "misclassified.png"):
        assert (repo / "reports" / "plots" / plot).stat().st_size > 0, plot
    assert sorted(p.name for p in (repo / "data" / "raw" / "tiny").glob("*.gz")) == sorted(FILES.values())

    client = store(repo)
    [run] = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    assert run.data.tags["dvc_stage"] == "train" and run.data.tags["dataset"] == "tiny"
    assert run.data.metrics["test_acc"] == pytest.approx(metrics["test_acc"])  # evaluate logged to train's run
    assert len(client.get_metric_history(run.info.run_id, "val_acc")) == 2
    version = client.get_model_version_by_alias("tiny-classifier", "champion")
    assert str(version.version) == "1" and version.run_id == run.info.run_id
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert "plots/confusion_matrix.png" in artifacts

    second = sh(repo, "dvc", "repro")
    assert "Data and pipelines are up to date." in second.stdout + second.stderr
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_a_local_mirror_in_the_environment_changes_nothing_dvc_tracks(repo, tiny_mirror, tmp_path, monkeypatch):
    sh(repo, "dvc", "repro")
    local = tmp_path / "my-mirror"
    shutil.copytree(tiny_mirror[0], local)
    monkeypatch.setenv(MIRROR_ENV, local.as_uri() + "/")
    shutil.rmtree(repo / "data" / "raw" / "tiny")  # fetch for real: DVC would restore it from its cache
    sh(repo, "python", "-m", "mnist_pipeline.download")
    assert mirrors_used(repo / "data" / "raw" / "tiny") == [local.as_uri() + "/"]
    # Neither the mirror nor the note of where each archive came from is a change of params or data.
    status = sh(repo, "dvc", "status")
    assert "Data and pipelines are up to date." in status.stdout + status.stderr
    assert sh(repo, "git", "diff", "--name-only", "params.yaml").stdout == ""


def test_editing_a_library_file_reruns_the_stage_that_imports_it(repo):
    sh(repo, "dvc", "repro")
    library_file = repo / "src" / "mnist_pipeline" / "data" / "idx.py"  # imported by prepare, not by download
    library_file.write_text(library_file.read_text() + "\n# edited\n")
    result = sh(repo, "dvc", "repro")
    output = result.stdout + result.stderr
    assert "Running stage 'prepare'" in output
    assert "Running stage 'download'" not in output


def test_a_bad_parameter_fails_before_any_output_is_removed(repo):
    sh(repo, "dvc", "repro")
    checkpoints = {p.name: p.read_bytes() for p in (repo / "models").glob("*.ckpt")}
    raw = {p.name: p.read_bytes() for p in (repo / "data" / "raw" / "tiny").glob("*.gz")}
    params = (repo / "params.yaml").read_text()

    def repro_with(section: str, key: str, value) -> str:
        changed = yaml.safe_load(params)
        changed[section][key] = value
        (repo / "params.yaml").write_text(yaml.safe_dump(changed))
        result = sh(repo, "dvc", "repro", check=False)
        assert result.returncode != 0
        return result.stdout + result.stderr

    try:
        message = "error: params.yaml: 'optimizer.lr' must be a positive number, got -1"
        assert message in repro_with("optimizer", "lr", -1)
        assert {p.name: p.read_bytes() for p in (repo / "models").glob("*.ckpt")} == checkpoints
        assert "error: params.yaml: 'data.mirrors' must be a non-empty list" in repro_with("data", "mirrors", [])
        assert {p.name: p.read_bytes() for p in (repo / "data" / "raw" / "tiny").glob("*.gz")} == raw
    finally:
        (repo / "params.yaml").write_text(params)


def test_a_killed_training_resumes_through_dvc_in_the_same_run(repo, tmp_path):
    sh(repo, "dvc", "repro")
    finished = (repo / "models" / "last.ckpt").read_bytes()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    epochs = ["-S", "data=tiny", "-S", "trainer.max_epochs=4", "-S", "data.batch_size=10"]
    log = tmp_path / "dvc.log"  # a file, not a pipe nobody reads while DVC runs
    dvc = subprocess.Popen(["dvc", "exp", "run", "train", *epochs], cwd=repo, env=env, stdout=log.open("w"),
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not (found := list((repo / "checkpoints").glob("*/last.ckpt"))):  # the first resumable checkpoint
            assert dvc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        # the Python process itself, not the shell DVC started it from (dash forks where bash would exec)
        matches = [p for p in psutil.Process(dvc.pid).children(recursive=True)
                   if "mnist_pipeline.train" in " ".join(p.cmdline())]
        [training] = [p for p in matches if not set(p.children()) & set(matches)]
        training.kill()  # as the kernel's OOM killer would
        assert dvc.wait(timeout=120) != 0, log.read_text()[-3000:]
    finally:  # a failed test must not leave an experiment running into the next one
        if dvc.poll() is None:
            for child in psutil.Process(dvc.pid).children(recursive=True):
                child.kill()
            dvc.kill()
    checkpoint, run_id = found[0], found[0].parent.name
    assert (repo / "models" / "last.ckpt").read_bytes() == finished  # the last good training's, untouched
    client = store(repo)
    assert client.get_run(run_id).info.status == "RUNNING"  # nothing could close it

    sh(repo, "dvc", "exp", "run", "train", *epochs, "-S", f"resume_from={checkpoint.relative_to(repo)}")
    assert torch.load(repo / "models" / "last.ckpt", weights_only=True)["mlflow_run_id"] == run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["resumed_from"] == str(checkpoint)
    steps = [m.step for m in client.get_metric_history(run_id, "val_acc")]
    assert steps == sorted(set(steps)) and len(steps) == 4


def test_dvc_exp_run_in_temp_copy_logs_to_root_store(repo):
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline outputs", check=False)
    sh(repo, "dvc", "exp", "run", "--temp", "-n", "higher-lr",
       "-S", "data=tiny", "-S", "trainer.max_epochs=1", "-S", "optimizer.lr=3e-3")

    client = store(repo)
    runs = client.search_runs([client.get_experiment_by_name("mnist").experiment_id],
                              filter_string="tags.dvc_exp_name = 'higher-lr'")
    assert len(runs) == 1 and runs[0].data.params["optimizer.lr"] == "0.003"
    assert "test_acc" in runs[0].data.metrics
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))  # nothing logged inside the copy
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    assert "higher-lr" in json.dumps(shown)


def test_queued_experiment_logs_to_root_store(repo):
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline outputs", check=False)
    sh(repo, "dvc", "exp", "run", "--queue", "-n", "queued-lr",
       "-S", "data=tiny", "-S", "trainer.max_epochs=1", "-S", "optimizer.lr=1e-3")
    try:
        sh(repo, "dvc", "queue", "start")
        status = wait_for_queue(repo, "queued-lr")
    finally:
        sh(repo, "dvc", "queue", "stop", check=False)  # leave no worker behind
    assert "Success" in status, status + sh(repo, "dvc", "queue", "logs", "queued-lr", check=False).stdout[-3000:]

    client = store(repo)
    runs = client.search_runs([client.get_experiment_by_name("mnist").experiment_id],
                              filter_string="tags.dvc_exp_name = 'queued-lr'")
    assert len(runs) == 1 and runs[0].data.params["optimizer.lr"] == "0.001"
    assert runs[0].info.status == "FINISHED" and "test_acc" in runs[0].data.metrics
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))  # nothing logged inside the copy
    [shown] = [exp for row in json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
               for exp in row.get("experiments") or [] if exp.get("name") == "queued-lr"]
    data = shown["revs"][0]["data"]
    assert data["params"]["params.yaml"]["data"]["optimizer"]["lr"] == 0.001
    test_acc = data["metrics"]["reports/metrics.json"]["data"]["test_acc"]
    assert test_acc == pytest.approx(runs[0].data.metrics["test_acc"])


def wait_for_queue(repo: Path, name: str, timeout: float = 300) -> str:
    """`dvc queue status` once the task `name` has finished (there is no `dvc queue wait`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sh(repo, "dvc", "queue", "status").stdout
        line = next((row for row in status.splitlines() if name in row), "")
        if any(word in line for word in ("Success", "Failed")):
            return status
        time.sleep(1)
    pytest.fail(f"queued experiment {name} did not finish in {timeout} s:\n{status}")


def test_corrupt_mirror_file_is_caught_before_training(repo, tiny_mirror, tmp_path):
    mirror, _ = tiny_mirror
    bad = tmp_path / "bad-mirror"
    shutil.copytree(mirror, bad)
    name = FILES["train_images"]
    (bad / name).write_bytes((bad / name).read_bytes()[:-100])
    # Force the download stage to fetch: outputs persist, and DVC would restore them from its cache.
    shutil.rmtree(repo / "data" / "raw", ignore_errors=True)
    shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    client = store(repo)
    before = len(client.search_runs([client.get_experiment_by_name("mnist").experiment_id]))

    result = sh(repo, "dvc", "exp", "run", "-S", "data=tiny", "-S", f"data.mirrors=[{bad.as_uri()}/]", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"could not get a verified copy of {name}" in output and bad.as_uri() in output
    assert len(client.search_runs([client.get_experiment_by_name("mnist").experiment_id])) == before


def test_the_train_stage_takes_the_ddp_preset(repo):
    """`dvc exp run -S trainer=ddp`: two training processes, one run, one pair of checkpoints, evaluated."""
    sh(repo, "dvc", "exp", "run", "-n", "two-processes", "-S", "data=tiny", "-S", "trainer=ddp",
       "-S", "trainer.devices=2", "-S", "trainer.accelerator=cpu", "-S", "trainer.max_epochs=1")
    client = store(repo)
    [run] = client.search_runs([client.get_experiment_by_name("mnist").experiment_id],
                               filter_string="tags.dvc_exp_name = 'two-processes'")
    assert run.info.status == "FINISHED" and run.data.params["trainer.strategy"] == "ddp"
    assert run.data.tags["hardware"].startswith("2 processes") and "test_acc" in run.data.metrics
    assert torch.load(repo / "models" / "last.ckpt", weights_only=True)["mlflow_run_id"] == run.info.run_id
