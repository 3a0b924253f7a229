"""The cluster path against a real SLURM controller: a one-node cluster started by the project's own
script (scripts/slurm_cluster.sh) on free local ports, and the team's MLflow server (PostgreSQL).
A sweep with hydra/launcher=slurm runs each job as a SLURM job, nested under the sweep's parent run;
srun starts the two processes of a DDP training inside an sbatch job; a training requeued while it
runs continues its MLflow run from its checkpoint; a failing job is a FAILED child and fails the sweep."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, compose_config, mlflow_client, tiny_overrides, write_tiny_conf
from mnist_pipeline.data.prepared import load_prepared
from mnist_pipeline.download import download
from mnist_pipeline.inference.checkpoints import load_checkpoint
from mnist_pipeline.inference.logits import batched_logits
from mnist_pipeline.prepare import prepare

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

if shutil.which("sbatch") is None:
    pytest.skip("SLURM is not installed (no sbatch): `apt-get install slurm-wlm munge` as .ci/run does, "
                "or see docs/cluster.md", allow_module_level=True)

from test_team_server import Server, environment, free_port  # noqa: E402  (after the skip: it needs PostgreSQL)

SCRIPT = ROOT / "scripts" / "slurm_cluster.sh"
PARTITION = "tests"
SACCT_FIELDS = "JobID,JobName,State,ExitCode,Elapsed,NCPUS,NodeList"


class Cluster:
    """The one-node cluster the script starts in `folder`; SLURM's commands reach it through SLURM_CONF."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings = {"LOCAL_SLURM_DIR": str(folder), "LOCAL_SLURM_PARTITION": PARTITION,
                         "LOCAL_SLURM_CTLD_PORT": str(free_port()), "LOCAL_SLURM_D_PORT": str(free_port())}

    def env(self, **extra: str) -> dict[str, str]:
        """This environment without any SLURM job's variables (pytest itself may run inside a job),
        pointed at this cluster."""
        env = {k: v for k, v in environment().items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
        return {**env, "SLURM_CONF": str(self.folder / "slurm.conf"), **extra}

    def script(self, action: str) -> str:
        result = subprocess.run(["bash", str(SCRIPT), action], capture_output=True, text=True, timeout=300,
                                env={**self.env(), **self.settings})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result.stdout

    def command(self, *args: str) -> str:
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, env=self.env())
        assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
        return result.stdout

    def state(self, job: str) -> str:
        """PENDING, RUNNING, ... while SLURM still lists the job; '' once it is gone."""
        return self.command("squeue", "-h", "-j", job, "-o", "%T").strip() if self.listed(job) else ""

    def listed(self, job: str) -> bool:
        return subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True,
                              env=self.env()).stdout.strip() != ""

    def accounting(self) -> list[dict[str, str]]:
        """What `sacct` shows for the finished jobs (no accounting database here: from the job
        completion log, --completion)."""
        lines = self.command("sacct", "--completion", "--parsable2", "-o", SACCT_FIELDS).splitlines()
        header = lines[0].split("|")
        return [dict(zip(header, line.split("|"))) for line in lines[1:]]


@pytest.fixture(scope="session")
def cluster():
    folder = Path(tempfile.mkdtemp(prefix="slurm-cluster-"))
    cluster = Cluster(folder)
    try:
        printed = cluster.script("start")
        assert f"export SLURM_CONF={folder / 'slurm.conf'}" in printed
        assert cluster.command("sinfo", "-h", "-o", "%P %a").split() == [f"{PARTITION}*", "up"]
        yield cluster
    finally:
        cluster.script("stop")
        print(cluster.command("sacct", "--completion", "-o", SACCT_FIELDS + ",Start,End"))  # for docs/cluster.md
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    """The team's tracking server (scripts/tracking_server.sh): every SLURM job logs to it over HTTP."""
    folder = Path(tempfile.mkdtemp(prefix="tracking-server-"))
    folder.chmod(0o755)  # PostgreSQL runs as `postgres`, which must reach its folder
    server = Server(folder / "server")
    try:
        server.run("start")
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_mirror) -> Path:
    """The tiny dataset, prepared once for all the jobs of this module."""
    folder = tmp_path_factory.mktemp("slurm")
    cfg = compose_config(tiny_overrides(folder), config_dir=write_tiny_conf(folder, *tiny_mirror))
    download(cfg)
    prepare(cfg)
    return folder


def overrides(project: Path, server: Server, name: str) -> list[str]:
    """The tiny dataset; models, reports and checkpoints in `name`'s own folder; runs on the server."""
    own = project / name
    return [*(o for o in tiny_overrides(project) if not o.startswith(("paths.models", "paths.reports",
                                                                       "paths.checkpoints", "tracking.tracking_uri"))),
            f"paths.models={own}/models", f"paths.reports={own}/reports", f"paths.checkpoints={own}/checkpoints",
            f"tracking.tracking_uri={server.url}", f"tracking.experiment_name={name}", "trainer.accelerator=cpu"]


def train_command(project: Path, *args: str) -> str:
    return " ".join([sys.executable, "-m", "mnist_pipeline.train", "--config-path", str(project / "conf"), *args])


def sweep(cluster: Cluster, project: Path, server: Server, name: str, *args: str) -> subprocess.CompletedProcess:
    """A Hydra multirun with the SLURM launcher, on this cluster's CPU partition: one core and no GPU a job."""
    command = train_command(project, "-m", *overrides(project, server, name), "hydra/launcher=slurm",
                            f"hydra.launcher.partition={PARTITION}", "hydra.launcher.cpus_per_task=1",
                            "hydra.launcher.mem_gb=1", "hydra.launcher.gpus_per_node=0",
                            "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={project / name / 'multirun'}",
                            "trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
                            *args).split()
    return subprocess.run(command, cwd=project, env=cluster.env(), capture_output=True, text=True, timeout=600)


def sbatch(cluster: Cluster, project: Path, name: str, script: str, *options: str, wait: bool = True) -> str:
    """Submit a batch script (its log appended to <name>/slurm-<job id>.out, across restarts); the job id."""
    (project / name).mkdir(exist_ok=True)
    path = project / name / "job.sh"
    path.write_text("#!/bin/bash\nset -e\n" + script + "\n")
    result = subprocess.run(["sbatch", "--parsable", f"--job-name={name}", f"--chdir={project}",
                             f"--output={project / name}/slurm-%j.out", "--open-mode=append",
                             *(["--wait"] if wait else []), *options, str(path)],
                            capture_output=True, text=True, env=cluster.env(), timeout=600)
    job = result.stdout.strip().split(";")[0]
    log = project / name / f"slurm-{job}.out"
    assert result.returncode == 0, (log.read_text()[-4000:] if log.exists() else "") + result.stderr[-2000:]
    return job


def runs_of(server: Server, experiment: str):
    client = mlflow_client(server.url)
    return client, client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def accounted(cluster: Cluster, jobs: set[str]) -> dict[str, dict[str, str]]:
    return {row["JobID"]: row for row in cluster.accounting() if row["JobID"] in jobs}


def test_a_slurm_sweep_runs_each_job_as_a_slurm_job_nested_under_the_parent_run(cluster, server, project):
    result = sweep(cluster, project, server, "slurm-sweep", "optimizer.lr=1e-3,3e-3")
    assert result.returncode == 0, result.stderr[-4000:]

    client, runs = runs_of(server, "slurm-sweep")
    [parent] = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
    children = [r for r in runs if r is not parent]
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    assert parent.data.params["sweep.launcher._target_"].endswith("SlurmLauncher")
    # Each job is a task of one SLURM job array, with a job id of its own, as SLURM's records say.
    tasks = sorted(r.data.tags["slurm_array_task"] for r in children)
    array = tasks[0].split("_")[0]
    assert tasks == [f"{array}_0", f"{array}_1"]
    jobs = {r.data.tags["slurm_job_id"] for r in children}
    records = accounted(cluster, jobs)
    assert len(jobs) == 2 and [row["State"] for row in records.values()] == ["COMPLETED", "COMPLETED"], records
    for run in children:
        assert len(client.get_metric_history(run.info.run_id, "val_acc")) == 2
    best = max(children, key=lambda r: r.data.metrics["best_val_acc"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_val_acc"] == best.data.metrics["best_val_acc"]
    assert Path(parent.data.tags["best_checkpoint"]).is_file()


def test_a_failing_slurm_job_is_a_failed_child_with_its_reason_and_fails_the_sweep(cluster, server, project):
    result = sweep(cluster, project, server, "slurm-failing", "optimizer.lr=1e-3,-1")
    assert result.returncode != 0
    assert "'optimizer.lr' must be a positive number, got -1" in result.stderr  # the job's error, in the sweep's

    _, runs = runs_of(server, "slurm-failing")
    [parent] = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
    jobs = {r.info.run_name.split()[0]: r for r in runs if r is not parent}
    assert jobs["job-0"].info.status == "FINISHED" and jobs["job-1"].info.status == "FAILED"
    assert "'optimizer.lr' must be a positive number, got -1" in jobs["job-1"].data.tags["error"]
    assert parent.info.status == "FINISHED" and parent.data.tags["failed_jobs"] == "1"
    assert parent.data.tags["best_run_id"] == jobs["job-0"].info.run_id
    # Hydra's job wrapper catches the job's error and hands it back through submitit's result file, so
    # SLURM accounts the job itself COMPLETED: the sweep's exit and MLflow are where the failure shows.
    failed = jobs["job-1"].data.tags["slurm_job_id"]
    assert accounted(cluster, {failed})[failed]["State"] == "COMPLETED"


def test_srun_starts_the_two_processes_of_one_ddp_training(cluster, server, project):
    name = "slurm-ddp"
    train = train_command(project, *overrides(project, server, name), "trainer=ddp", "trainer.devices=2",
                          "trainer.accelerator=cpu", "trainer.max_epochs=2", f"hydra.run.dir={project / name}/outputs")
    job = sbatch(cluster, project, name, f"srun {train}", "--nodes=1", "--ntasks-per-node=2",
                 "--cpus-per-task=1")  # Lightning refuses --ntasks

    client, runs = runs_of(server, name)
    [run] = runs  # one run, opened by the process SLURM gave rank 0
    assert run.info.status == "FINISHED" and run.data.tags["slurm_job_id"] == job
    assert run.data.tags["hardware"].startswith("2 processes")
    models = project / name / "models"
    assert sorted(p.name for p in models.iterdir()) == ["best.ckpt", "last.ckpt"]
    assert not list((project / name / "checkpoints").iterdir())
    # 1000 training images in batches of 50 over 2 processes: 10 steps an epoch, as one process with 20 would be.
    model, checkpoint = load_checkpoint(models / "last.ckpt")
    assert checkpoint["mlflow_run_id"] == run.info.run_id and checkpoint["global_step"] == 20
    # The logged accuracy is that of the whole validation set, not of rank 0's half.
    images, labels = load_prepared(project / "data" / "prepared", "val", 10)
    whole = float((batched_logits(model, images, True).argmax(dim=1) == labels).float().mean())
    last = max(client.get_metric_history(run.info.run_id, "val_acc"), key=lambda m: m.step)
    assert last.value == pytest.approx(whole, abs=1e-6)
    record = accounted(cluster, {job})[job]
    assert record["State"] == "COMPLETED" and record["NCPUS"] == "2"


def wait_for(what, check, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_requeued_training_stops_with_a_checkpoint_and_continues_its_run(cluster, server, project):
    name, epochs = "slurm-requeue", 8
    train = train_command(project, *overrides(project, server, name), f"trainer.max_epochs={epochs}",
                          f"hydra.run.dir={project / name}/outputs")
    job = sbatch(cluster, project, name, f"srun {train}", "--ntasks=1", "--cpus-per-task=1", wait=False)
    log = project / name / f"slurm-{job}.out"
    try:
        # Requeue as soon as the first validated checkpoint is written, well before the last epoch.
        first = wait_for("the first checkpoint", lambda: list((project / name / "checkpoints").glob("*/last.ckpt")),
                         timeout=300)[0]
        epoch_then = torch.load(first, weights_only=True)["epoch"]
        cluster.command("scontrol", "requeue", job)
        wait_for("the job to be requeued", lambda: cluster.state(job) == "PENDING", timeout=120)
        # SLURM holds a requeued job back for a while (its begin time); let it start again now.
        cluster.command("scontrol", "update", f"JobId={job}", "StartTime=now")
        wait_for("the job to end", lambda: not cluster.listed(job), timeout=400, every=1)
    finally:
        if cluster.listed(job):
            cluster.command("scancel", job)
    printed = log.read_text()

    client, runs = runs_of(server, name)
    [run] = runs  # the same run, continued
    assert run.info.status == "FINISHED", printed[-4000:]
    assert f"stopped by SIGTERM: MLflow run {run.info.run_id} marked KILLED" in printed
    assert f"resuming MLflow run {run.info.run_id} from {first}" in printed
    assert run.data.tags["resumed_after"] == "stopped by SIGTERM" and run.data.tags["slurm_restart_count"] == "1"
    assert run.data.tags["slurm_job_id"] == job
    # Every epoch validated once: those before the requeue and those after, none twice.
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_acc")]
    assert len(steps) == len(set(steps)) == epochs, steps
    last = torch.load(project / name / "models" / "last.ckpt", weights_only=True)
    assert last["epoch"] == epochs and last["mlflow_run_id"] == run.info.run_id and epoch_then < epochs - 1
    assert accounted(cluster, {job})[job]["State"] == "COMPLETED"
