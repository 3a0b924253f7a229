"""Generated hostile params.yaml files (Hypothesis), read by the checker every stage reads them with
(core.config.load_params, then the training's own checks) and, when accepted, built: the model, its
optimizer and the callbacks. Each is accepted and builds into a model of bounded size, or is refused
in one line naming the file; nothing it names ever runs."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import compose_config
from hostile import (
    SETTINGS,
    assert_success_or_one_line,
    damaged_bytes,
    examples,
    mutated,
    peak_rss_gib,
    run_command,
    settings,
)
from mnist_pipeline.core.config import load_params, to_plain
from mnist_pipeline.training.builders import build_callbacks, check_training_config, optimizer_factory
from mnist_pipeline.training.classifier import Classifier
from mnist_pipeline.training.datamodule import MNISTDataModule

# The widest model the checker lets through (MLP, 4096-wide hidden layers, 1000 classes) has 24M.
MAX_PARAMETERS = 30_000_000


def read_and_build(path):
    """What the train stage (train.train) does with params.yaml before its first batch."""
    cfg = load_params(path, source="params.yaml")
    check_training_config(cfg, "params.yaml")
    config = to_plain(cfg)
    MNISTDataModule(cfg.paths.prepared, cfg.data.batch_size, cfg.data.normalize, cfg.data.sample_with_replacement,
                    seed=cfg.seed, num_classes=len(cfg.data.classes))
    module = Classifier(model=config["model"], optimizer=config["optimizer"], num_classes=len(cfg.data.classes),
                        scheduler=config.get("scheduler"))
    optimizer_factory(cfg.optimizer, "params.yaml")(module.parameters())
    build_callbacks(config["callbacks"])
    parameters = sum(p.numel() for p in module.parameters())
    assert parameters <= MAX_PARAMETERS, f"accepted a model of {parameters:,} parameters"


def yaml_text(tree: dict) -> bytes:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode()


@examples(quick=150, many=1500)
def test_each_hostile_params_file_is_built_bounded_or_refused_in_one_line(tmp_path, examples):
    original = to_plain(compose_config(["experiment=deep_mnist"]))  # a scheduler-free recipe with a callback
    marker = tmp_path / "marker"
    text = yaml_text(original)
    files = st.one_of(mutated(original, marker, tensors=False).map(lambda m: yaml_text(m[1])),
                      damaged_bytes(text))

    @settings(max_examples=examples, **SETTINGS)
    @given(files)
    def check(content):
        path = tmp_path / "params.yaml"
        path.write_bytes(content)
        code, _, stderr = run_command(lambda: read_and_build(path))
        if assert_success_or_one_line("params.yaml", code, stderr):
            assert "params.yaml" in stderr  # the line names the file (and the key, see tests/core)
        assert not marker.exists(), "a config ran code"

    check()
    assert peak_rss_gib() < 4


def test_the_unmutated_params_are_built(tmp_path):
    """The property above could hold by refusing everything: the real composition must build."""
    path = tmp_path / "params.yaml"
    path.write_bytes(yaml_text(to_plain(compose_config(["model=mlp"]))))
    assert run_command(lambda: read_and_build(path))[0] == 0
