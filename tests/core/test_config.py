"""Loading and validating the resolved configuration."""

import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

from conftest import compose_config
from mnist_pipeline.core.config import load_params, validate
from mnist_pipeline.core.errors import ConfigError


def test_default_composition_is_valid():
    validate(compose_config())
    validate(compose_config(["data=fashion_mnist", "model=deep_cnn", "optimizer=sgd"]))


@pytest.mark.parametrize(("override", "message"), [
    ("optimizer.lr=0", "'optimizer.lr' must be a positive number, got 0"),
    ("optimizer.lr=-1e-3", "'optimizer.lr' must be a positive number, got -0.001"),
    ("data.batch_size=0", "'data.batch_size' must be a positive number, got 0"),
    ("data.batch_size=2.5", "'data.batch_size' must be a whole number, got 2.5"),
    ("data.mirrors=[]", "'data.mirrors' must be a non-empty list"),
    ("trainer.max_epochs=0", "'trainer.max_epochs' must be a positive number"),
    ("data.val_size=60000", "'data.val_size' must be between 1 and data.sizes.train - 1"),
    ("data.files.test_labels.sha256=abc", "'data.files.test_labels.sha256' must be 64 lowercase hex digits"),
    ("model._target_=mnist_pipeline.models.NoSuchNet", "'model._target_' names 'mnist_pipeline.models.NoSuchNet'"),
])
def test_invalid_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        validate(compose_config([override]))


@pytest.mark.parametrize(("override", "group"), [("model=resnet9000", "model"), ("data=cifar", "data")])
def test_unknown_group_option_names_the_group(override, group):
    with pytest.raises(MissingConfigException, match=f"Could not find '{group}/"):
        compose_config([override])


def test_load_params_names_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match="params.yaml not found"):
        load_params(tmp_path / "params.yaml")
    cfg = OmegaConf.to_container(compose_config(["optimizer=adam"]))  # (adam_one_cycle's max_lr names optimizer.lr)
    del cfg["optimizer"]["lr"]
    OmegaConf.save(cfg, tmp_path / "params.yaml")
    with pytest.raises(ConfigError, match=r"params.yaml: missing key 'optimizer.lr'"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(("section", "key", "message"), [
    (None, "sed", r"unknown key 'sed' \(did you mean 'seed'\?\)"),
    ("data", "batchsize", r"unknown key 'data.batchsize' \(did you mean 'data.batch_size'\?\)"),
    ("tracking", "uri", r"unknown key 'tracking.uri'"),
])
def test_an_unknown_key_in_params_yaml_names_it(tmp_path, section, key, message):
    cfg = OmegaConf.to_container(compose_config())
    (cfg[section] if section else cfg)[key] = 1
    OmegaConf.save(cfg, tmp_path / "params.yaml")
    with pytest.raises(ConfigError, match=f"params.yaml: {message}"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c.pop("seed"), r"missing key 'seed'"),
    (lambda c: c.pop("callbacks"), r"'callbacks' must be a mapping \(may be \{\}\)"),
    (lambda c: c.update(seed="ten"), r"'seed' must be a whole number from 0 to 4294967295, got 'ten'"),
    (lambda c: c.update(seed=2**40), r"'seed' must be a whole number from 0 to 4294967295"),
    (lambda c: c["data"].update(normalize="abc"), r"'data.normalize' must be true or false, got 'abc'"),
    (lambda c: c["data"].update(classes=["0", "0"]), r"'data.classes' must be 1 to 1000 distinct class names"),
    (lambda c: c["data"].update(classes=[str(i) for i in range(1001)]), r"'data.classes' must be 1 to 1000"),
    (lambda c: c["paths"].update(models=[1]), r"'paths.models' must be a string, got \[1\]"),
    (lambda c: c.update(trainer="cpu"), r"'trainer' must be a mapping"),
    (lambda c: c["data"].update(files=["x"]), r"'data.files.train_images.name' cannot be read: a section above it"),
    (lambda c: c.update(recipe="${missing}"), r"'recipe' cannot be resolved \(Interpolation key 'missing' not found\)"),
    (lambda c: c["trainer"].update(max_steps="ten"),
     r"'trainer.max_steps' must be a whole number \(-1: no limit\), got 'ten'"),
    (lambda c: c["data"].update(mirrors=True), r"'data.mirrors' must be a non-empty list of URLs or folders, got True"),
])
def test_keys_the_train_stage_reads_as_they_are_are_checked_by_kind(tmp_path, change, message):
    """Found by tests/test_hostile_params.py: these ended in an OmegaConf or torch traceback mid-stage."""
    cfg = OmegaConf.to_container(compose_config(), resolve=True)
    change(cfg)
    OmegaConf.save(cfg, tmp_path / "params.yaml")
    with pytest.raises(ConfigError, match=f"params.yaml: {message}"):
        load_params(tmp_path / "params.yaml")
