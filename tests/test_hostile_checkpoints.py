"""Generated hostile checkpoints (Hypothesis), each read by every checkpoint reader: predict's command,
evaluate and a training's resume. Each starts from a real checkpoint of a tiny training, mutated
(keys removed, types swapped, values out of range, forbidden targets at any depth) or damaged
(truncated, overwritten bytes). Each reader either succeeds or refuses in one line; nothing the file
names ever runs; evaluate never registers a file that names a forbidden target."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import compose_config, mlflow_client, tiny_overrides, write_tiny_conf
from hostile import (
    SETTINGS,
    TRIED,
    assert_success_or_one_line,
    damaged_bytes,
    examples,
    mutated,
    peak_rss_gib,
    run_command,
    save,
    settings,
)
from mnist_pipeline import predict
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.download import download
from mnist_pipeline.evaluate import evaluate
from mnist_pipeline.inference.checkpoints import resume_checkpoint
from mnist_pipeline.prepare import prepare
from mnist_pipeline.train import train

MEMORY_GIB = 4  # far below what a 10**11-class layer (12.8 TB) would ask for


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_mirror):
    """A real tiny training (trainer=debug: five batches), its config and its best.ckpt's contents."""
    folder = tmp_path_factory.mktemp("hostile")
    cfg = compose_config([*tiny_overrides(folder), "trainer=debug"], config_dir=write_tiny_conf(folder, *tiny_mirror))
    download(cfg)
    prepare(cfg)
    train(cfg)
    best = folder / "models" / "best.ckpt"
    return cfg, best, torch.load(best, weights_only=True), folder


def hostile_files(original: dict, marker: Path, forbidden_only: bool = False):
    """(what was done, file bytes) for a mutated checkpoint, or the real one damaged."""
    data = save(original, marker.parent / "original.ckpt")
    if forbidden_only:
        return mutated(original, marker, forbidden_only=True).map(lambda m: (m[0], m[1]))
    return st.one_of(mutated(original, marker), damaged_bytes(data).map(lambda b: ("bytes", b)))


def write(content, path: Path) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    return path


@examples(quick=80, many=800)
def test_predict_answers_or_refuses_each_hostile_checkpoint_in_one_line(finished, tmp_path, monkeypatch, examples):
    cfg, _, original, _ = finished
    marker = tmp_path / "marker"

    @settings(max_examples=examples, **SETTINGS)
    @given(hostile_files(original, marker))
    def check(case):
        kind, content = case
        path = write(content, tmp_path / "hostile.ckpt")
        monkeypatch.setattr(sys, "argv", ["predict", "--checkpoint", str(path), "--index", "0", "--json"])
        code, _, stderr = run_command(predict.main)
        assert_success_or_one_line("predict", code, stderr)
        assert not marker.exists(), f"{kind}: a file ran code"

    check()
    assert peak_rss_gib() < MEMORY_GIB


@examples(quick=80, many=800)
def test_a_resume_reads_each_hostile_checkpoint_or_refuses_it_in_one_line(finished, tmp_path, examples):
    cfg, _, original, _ = finished
    marker = tmp_path / "marker"
    model = original["config"]["model"]
    trainer = {**original["config"]["trainer"], "max_epochs": 2}  # one epoch more than it ran: a schedule left

    @settings(max_examples=examples, **SETTINGS)
    @given(hostile_files(original, marker))
    def check(case):
        kind, content = case
        path = write(content, tmp_path / "hostile.ckpt")
        code, _, stderr = run_command(lambda: resume_checkpoint(path, model, trainer))
        assert_success_or_one_line("resume", code, stderr)
        assert not marker.exists(), f"{kind}: a file ran code"

    check()
    assert peak_rss_gib() < MEMORY_GIB


def registered_versions(cfg) -> int:
    client = mlflow_client(cfg.tracking.tracking_uri)
    return len(client.search_model_versions(f"name='{cfg.tracking.registered_model_name}'"))


@examples(quick=30, many=300)
def test_evaluate_never_registers_a_checkpoint_that_names_a_forbidden_target(finished, tmp_path, examples):
    cfg, _, original, _ = finished
    marker = tmp_path / "marker"
    before = registered_versions(cfg)

    @settings(max_examples=examples, **SETTINGS)
    @given(hostile_files(original, marker, forbidden_only=True))
    def check(case):
        kind, content = case
        path = write(content, tmp_path / "hostile.ckpt")
        code, _, stderr = run_command(lambda: evaluate(cfg, path))
        assert assert_success_or_one_line("evaluate", code, stderr), f"{kind}: scored and registered"
        assert "not allowed" in stderr or "only" in stderr
        assert not marker.exists(), f"{kind}: a file ran code"

    check()
    assert registered_versions(cfg) == before


@pytest.mark.slow
@examples(quick=15, many=60)
def test_evaluate_scores_or_refuses_each_hostile_checkpoint_in_one_line(finished, tmp_path, examples):
    """Any mutation (most pass: evaluate reads few sections); each success scores and registers."""
    cfg, _, original, _ = finished
    marker = tmp_path / "marker"

    @settings(max_examples=examples, **SETTINGS)
    @given(hostile_files(original, marker))
    def check(case):
        kind, content = case
        path = write(content, tmp_path / "hostile.ckpt")
        code, _, stderr = run_command(lambda: evaluate(cfg, path))
        assert_success_or_one_line("evaluate", code, stderr)
        assert not marker.exists(), f"{kind}: a file ran code"

    check()


def test_the_real_checkpoint_itself_passes_every_reader(finished, tmp_path, monkeypatch):
    """The property above could hold by refusing everything: the unmutated file must be read."""
    cfg, best, original, _ = finished
    trainer = {**original["config"]["trainer"], "max_epochs": 2}
    assert resume_checkpoint(best, original["config"]["model"], trainer)["mlflow_run_id"] == original["mlflow_run_id"]
    monkeypatch.setattr(sys, "argv", ["predict", "--checkpoint", str(best), "--index", "0", "--json"])
    code, out, stderr = run_command(predict.main)
    assert code == 0 and '"predicted"' in out, stderr
    with pytest.raises(PipelineError, match="not allowed"):
        forbidden = {**original, "callbacks": {"x": [{"_target_": "os.system", "_args_": ["true"]}]}}
        resume_checkpoint(write(forbidden, tmp_path / "f.ckpt"), original["config"]["model"])
    assert TRIED is not None
