"""Sweeps: a seeded Optuna search run two jobs at a time by the joblib launcher, nested under an MLflow
parent run; the compare command; the MLflow UI showing the sweep, in a real (headless) browser."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from omegaconf import OmegaConf, open_dict

from conftest import ROOT, compose_config, mlflow_client, tiny_overrides, write_tiny_conf
from mnist_pipeline import compare
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.download import download
from mnist_pipeline.prepare import prepare
from mnist_pipeline.tracking import queries, sweeps

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

JOBS, PARALLEL = 8, 2
EXPERIMENT = "sweeps"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browser download is not reachable
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def run_sweep(folder: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [sys.executable, "-m", "mnist_pipeline.train", "--config-path", str(folder / "conf"), "-m",
         *tiny_overrides(folder), f"tracking.experiment_name={EXPERIMENT}", "trainer.max_epochs=2",
         "trainer.limit_train_batches=3", "trainer.limit_val_batches=2", *overrides],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def optuna_sweep(tmp_path_factory, tiny_mirror) -> tuple[Path, str]:
    """A finished Optuna sweep of 8 trials, 2 at a time, on a fresh store; (folder, store URI)."""
    folder = tmp_path_factory.mktemp("sweep")
    cfg = compose_config(tiny_overrides(folder), config_dir=write_tiny_conf(folder, *tiny_mirror))
    download(cfg)
    prepare(cfg)
    result = run_sweep(folder, "hparams_search=small_cnn_optuna", f"hydra.sweeper.n_trials={JOBS}",
                       f"hydra.sweeper.n_jobs={PARALLEL}", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={PARALLEL}",
                       f"hydra.sweep.dir={folder}/multirun")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, cfg.tracking.tracking_uri


def client_for(uri: str) -> MlflowClient:
    return mlflow_client(uri)


def test_optuna_preset_is_seeded_and_maximises_validation_accuracy():
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("config", overrides=["hparams_search=small_cnn_optuna"], return_hydra_config=True)
    sweeper = OmegaConf.to_container(cfg.hydra.sweeper, resolve=True)
    assert sweeper["_target_"].endswith("OptunaSweeper") and sweeper["direction"] == "maximize"
    assert sweeper["sampler"]["_target_"] == "optuna.samplers.TPESampler" and sweeper["sampler"]["seed"] == cfg.seed
    assert set(sweeper["params"]) == {"optimizer.lr", "model.dropout", "data.batch_size"}
    assert cfg.model._target_.endswith("SmallCNN")


def test_parallel_optuna_sweep_nests_every_job_under_one_parent_run(optuna_sweep):
    folder, uri = optuna_sweep
    client = client_for(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs = client.search_runs([experiment])
    [parent] = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
    children = [r for r in runs if r is not parent]
    assert len(children) == JOBS and len(runs) == JOBS + 1
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    assert sorted(int(r.data.tags["hydra_job_num"]) for r in children) == list(range(JOBS))
    for run in children:  # every job's metrics arrived: once per epoch, and the final one
        assert len(client.get_metric_history(run.info.run_id, "val_acc")) == 2
        assert 0 < run.data.metrics["best_val_acc"] <= 1
    assert len({r.data.params["optimizer.lr"] for r in children}) == JOBS  # Optuna proposed each trial

    # The parent records the sweep's definition...
    params = parent.data.params
    assert params["sweep.sweeper._target_"].endswith("OptunaSweeper") and params["sweep.sweeper.sampler.seed"] == "42"
    assert params["sweep.launcher._target_"].endswith("JoblibLauncher") and params["sweep.launcher.n_jobs"] == "2"
    assert "hparams_search=small_cnn_optuna" in params["sweep.overrides"]
    # ... and its best job: the highest best_val_acc, which Optuna also reports as its best value.
    best = max(children, key=lambda r: r.data.metrics["best_val_acc"])
    assert parent.data.metrics["best_val_acc"] == best.data.metrics["best_val_acc"]
    assert parent.data.tags["best_run_id"] == best.info.run_id
    for key in ("optimizer.lr", "model.dropout", "data.batch_size"):
        assert params[f"best.{key}"] == best.data.params[key], key
    checkpoint = Path(parent.data.tags["best_checkpoint"])
    assert checkpoint == folder / "multirun" / best.data.tags["hydra_job_num"] / "models" / "best.ckpt"
    assert checkpoint.is_file()
    optuna_result = OmegaConf.load(folder / "multirun" / "optimization_results.yaml")
    assert optuna_result.best_value == pytest.approx(parent.data.metrics["best_val_acc"])
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")}
    assert artifacts == {f"comparison/{name}" for name in ("comparison.csv", "comparison.md", "val_acc.png")}


def test_compare_tabulates_and_plots_a_sweep(optuna_sweep, tmp_path, capsys):
    folder, uri = optuna_sweep
    out = tmp_path / "compare"
    compare.main(["--sweep", "latest", "--tracking-uri", uri, "--experiment", EXPERIMENT, "--out", str(out)])
    printed = capsys.readouterr().out

    rows = pd.read_csv(out / "comparison.csv")
    assert len(rows) == JOBS and list(rows.best_val_acc) == sorted(rows.best_val_acc, reverse=True)
    assert {"optimizer.lr", "model.dropout", "data.batch_size", "val_acc", "val_loss"} <= set(rows.columns)
    assert "optimizer/lr" not in rows.columns  # Lightning's duplicate of optimizer.lr
    assert rows.run_id.iloc[0] in printed and rows.run_id.iloc[0] in (out / "comparison.md").read_text()
    assert (out / "val_acc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    client = client_for(uri)
    parent = client.get_run(queries.latest_sweep(EXPERIMENT))
    assert rows.run_id.iloc[0] == parent.data.tags["best_run_id"]

    # A list of run ids, sorted by another metric; the whole experiment leaves the parent out.
    two = list(rows.run_id[:2])
    compare.main(["--runs", *two, "--metric", "val_loss", "--tracking-uri", uri, "--experiment", EXPERIMENT,
                  "--out", str(tmp_path / "two")])
    two_rows = pd.read_csv(tmp_path / "two" / "comparison.csv")
    assert set(two_rows.run_id) == set(two) and list(two_rows.val_loss) == sorted(two_rows.val_loss)  # lowest first
    assert list(two_rows.columns).index("val_loss") < list(two_rows.columns).index("best_val_acc")
    whole = compare.compare(compare.parse_args(["--tracking-uri", uri, "--experiment", EXPERIMENT,
                                                "--out", str(tmp_path / "all")]))
    assert len(whole) == JOBS


def test_compare_names_what_is_wrong(optuna_sweep, tmp_path):
    _, uri = optuna_sweep
    base = ["--tracking-uri", uri, "--experiment", EXPERIMENT, "--out", str(tmp_path)]
    with pytest.raises(PipelineError, match="metric 'nope' was not logged by any of these runs; they have: .*val_acc"):
        compare.main([*base, "--metric", "nope"])
    with pytest.raises(PipelineError, match="no such run.*: 0123abc"):
        compare.main([*base, "--runs", "0123abc"])
    with pytest.raises(PipelineError, match="no experiment 'missing'"):
        compare.main(["--tracking-uri", uri, "--experiment", "missing", "--out", str(tmp_path)])


def test_a_sweep_whose_jobs_all_failed_leaves_a_failed_parent(optuna_sweep, tmp_path):
    _, uri = optuna_sweep  # reuses the store: a fresh SQLite store takes seconds to create
    cfg = compose_config([f"tracking.tracking_uri={uri}", "tracking.experiment_name=failing"])
    with open_dict(cfg):
        cfg.hydra = {"sweep": {"dir": str(tmp_path / "multirun")}, "overrides": {"task": ["optimizer.lr=1,2"]},
                     "sweeper": {"_target_": "basic"}, "launcher": {"_target_": "basic"}}
    parent = sweeps.start_parent_run(cfg)
    client = MlflowClient()
    job = client.create_run(client.get_run(parent).info.experiment_id, tags={"mlflow.parentRunId": parent})
    client.set_terminated(job.info.run_id, "FAILED")

    assert sweeps.finish_parent_run(parent, tmp_path / "comparison") is None
    run = client.get_run(parent)
    assert run.info.status == "FAILED" and run.data.tags["mlflow.note.content"] == "No job finished (1 jobs)."
    assert run.data.params["sweep.overrides"] == "optimizer.lr=1,2"


def test_a_failed_job_is_a_failed_child_and_the_parent_still_records_the_best(optuna_sweep, tmp_path):
    folder, uri = optuna_sweep
    result = run_sweep(folder, "optimizer.lr=1e-3,-1", f"hydra.sweep.dir={tmp_path}/multirun",
                       "tracking.experiment_name=partly-failing")
    assert result.returncode != 0  # the sweep did fail
    client = client_for(uri)
    experiment = client.get_experiment_by_name("partly-failing").experiment_id
    [parent] = client.search_runs([experiment], "tags.sweep_role = 'parent'")
    jobs = {r.info.run_name.split()[0]: r for r in client.search_runs([experiment])
            if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert jobs["job-0"].info.status == "FINISHED"
    assert jobs["job-1"].info.status == "FAILED"
    assert "'optimizer.lr' must be a positive number, got -1" in jobs["job-1"].data.tags["error"]
    assert parent.data.tags["best_run_id"] == jobs["job-0"].info.run_id
    assert parent.data.tags["failed_jobs"] == "1" and "1 of 2 jobs failed" in parent.data.tags["mlflow.note.content"]
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")} >= {
        "comparison/comparison.csv", "comparison/val_acc.png"}


def test_a_submitit_sweep_gives_its_jobs_the_parent_run_and_store_in_their_config(tmp_path, tiny_mirror):
    """submitit_local runs each job as submitit runs it on SLURM: a new process that gets the pickled
    config, not the sweep process's state; the parent run and the store reach it as config."""
    cfg = compose_config(tiny_overrides(tmp_path), config_dir=write_tiny_conf(tmp_path, *tiny_mirror))
    download(cfg)
    prepare(cfg)
    result = run_sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                       "optimizer.lr=1e-3,2e-3", f"hydra.sweep.dir={tmp_path}/multirun")
    assert result.returncode == 0, result.stderr[-3000:]
    client = client_for(cfg.tracking.tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    [parent] = client.search_runs([experiment], "tags.sweep_role = 'parent'")
    jobs = [r for r in client.search_runs([experiment]) if r.info.run_id != parent.info.run_id]
    assert parent.info.status == "FINISHED" and parent.data.params["sweep.launcher._target_"].endswith("LocalLauncher")
    assert sorted(r.info.run_name.split()[0] for r in jobs) == ["job-0", "job-1"]
    assert all(r.info.status == "FINISHED" and r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in jobs)
    varied = sorted(r.data.tags["hydra_overrides"].split()[-1] for r in jobs)
    assert varied == ["optimizer.lr=0.001", "optimizer.lr=0.002"]
    assert "tracking.parent_run_id" not in jobs[0].data.tags["hydra_overrides"]  # where it logs, not what it varied
    for job in ("0", "1"):  # each job ran from its own config, which names the parent run and the store
        job_cfg = OmegaConf.load(tmp_path / "multirun" / job / ".hydra" / "config.yaml")
        assert job_cfg.tracking.parent_run_id == parent.info.run_id
        assert job_cfg.tracking.tracking_uri == cfg.tracking.tracking_uri
    assert list((tmp_path / "multirun" / ".submitit").glob("*/*_result.pkl"))  # submitit ran them


def test_a_sweep_that_cannot_work_stops_before_any_job(tmp_path):
    config = OmegaConf.create({"hydra": {
        "sweep": {"dir": str(tmp_path)}, "overrides": {"task": []}, "launcher": {"_target_": "basic"},
        "sweeper": {"_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
                    "storage": f"sqlite:///{tmp_path}/optuna.db", "study_name": None}}})
    # SystemExit, since Hydra turns a callback's exceptions into warnings and carries on.
    with pytest.raises(SystemExit, match="hydra.sweeper.study_name is not set"):
        sweeps.SweepParentRun().on_multirun_start(config)


@pytest.fixture(scope="module")
def mlflow_ui(optuna_sweep):
    """`mlflow server` on the sweep's store, on a free local port; yields its URL."""
    _, uri = optuna_sweep
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start: {server.stderr.read().decode()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started
        server.wait(timeout=30)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_mlflow_ui_shows_the_sweep_nested_under_its_parent(optuna_sweep, mlflow_ui, tmp_path):
    from playwright.sync_api import sync_playwright

    _, uri = optuna_sweep
    client = client_for(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    parent = client.get_run(queries.latest_sweep(EXPERIMENT))
    children = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == JOBS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 2400, "height": 1200})
            # The link `make ui` prints: the experiment opens on its runs table with their names, not
            # on the GenAI overview, and (its kind recorded) with no "Choose experiment type" pop-up.
            page.goto(f"{mlflow_ui}/#/experiments/{experiment}?workflowType=machine_learning")
            parent_row = page.locator("[role=row]", has_text=parent.info.run_name)
            parent_row.wait_for(timeout=60_000)
            assert page.get_by_text("Choose experiment type").count() == 0
            names = {run.data.tags["hydra_job_num"]: run.info.run_name for run in children}
            assert names["0"].startswith("job-0 ")  # the job's number, then its overrides
            assert page.get_by_text(names["0"], exact=True).count() == 0  # children start folded under the parent
            parent_row.locator('[col-id="attributes.`Run Name`"] button').click()  # unfold
            page.get_by_text(names[str(JOBS - 1)], exact=True).wait_for(timeout=10_000)
            # Show the metric and a swept param as columns, as a user would through "Columns".
            page.get_by_role("button", name="Columns", exact=True).click()
            chooser = page.get_by_role("dialog")
            for column in ("best_val_acc", "optimizer.lr"):
                chooser.get_by_text(column, exact=True).click()
            page.keyboard.press("Escape")
            page.screenshot(path=str(tmp_path / "mlflow_ui_sweep.png"))

            for run in [parent, *children]:
                row = f'[role=row][row-id="{run.info.run_id}"]'
                assert page.locator(f"{row} >> text={run.info.run_name}").count() == 1, run.info.run_name
                shown = page.locator(f'{row} [col-id="metrics.`best_val_acc`"]').inner_text()
                assert float(shown) == pytest.approx(run.data.metrics["best_val_acc"]), run.info.run_name
            for run in children:
                shown = page.locator(f'[role=row][row-id="{run.info.run_id}"] [col-id="params.`optimizer.lr`"]')
                assert shown.inner_text() == run.data.params["optimizer.lr"], run.info.run_name
        finally:
            browser.close()
