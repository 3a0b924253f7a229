"""What configs may build: only the model zoo, torch optimizers and Lightning or project callbacks,
checked before anything is imported or called. Checkpoints are files people share."""

import subprocess
import sys

import pytest
import torch

from conftest import compose_config
from mnist_pipeline.core.config import to_plain
from mnist_pipeline.core.errors import ConfigError, PipelineError
from mnist_pipeline.inference.checkpoints import load_checkpoint
from mnist_pipeline.models import SmallCNN
from mnist_pipeline.models.build import build_model
from mnist_pipeline.training.builders import (
    build_callbacks,
    check_trainer_keys,
    optimizer_factory,
    scheduler_factory,
)

ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3}


def test_the_zoo_and_torch_optimizers_build():
    model = build_model({"_target_": "mnist_pipeline.models.SmallCNN", "dropout": 0.1}, num_classes=10)
    assert isinstance(model, SmallCNN)
    assert isinstance(optimizer_factory(ADAM)(model.parameters()), torch.optim.Adam)
    [callback] = build_callbacks({"status": {"_target_": "mnist_pipeline.training.callbacks.StatusLine",
                                             "every_n_steps": 10, "template": "{step}"}})
    assert callback.every_n_steps == 10


def attack(folder):
    """A target that would leave a trace on disk if it ever ran."""
    return {"_target_": "os.makedirs", "name": str(folder / "pwned")}


@pytest.mark.parametrize(("spec", "message"), [
    (lambda tmp: attack(tmp), r"'model._target_' names 'os.makedirs', which is not allowed"),
    (lambda tmp: {"_target_": "mnist_pipeline.models.SmallCNN", "dropout": attack(tmp)},
     r"'model.dropout._target_' names 'os.makedirs'"),
    (lambda tmp: {"_target_": "mnist_pipeline.models.init.apply_init"}, r"apply_init', which is not allowed"),
    # An allow-list names exact classes: a prefix would let an attribute walk into torch.nn through.
    (lambda tmp: {"_target_": "mnist_pipeline.models.small_cnn.nn.Identity"}, r"nn.Identity', which is not allowed"),
    (lambda tmp: {"_target_": "mnist_pipeline.models.SmallCNN", "dropuot": 0.1},
     r"unknown key 'model.dropuot' \(did you mean 'model.dropout'\?\)"),
])
def test_a_model_config_can_build_only_the_zoo(tmp_path, spec, message):
    with pytest.raises(ConfigError, match=message):
        build_model(spec(tmp_path), num_classes=10)
    assert not (tmp_path / "pwned").exists()


def test_optimizers_and_callbacks_are_allow_listed(tmp_path):
    with pytest.raises(ConfigError, match=r"'optimizer._target_' names 'torch.hub.load', which is not allowed"):
        optimizer_factory({"_target_": "torch.hub.load", "repo_or_dir": "attacker/repo", "model": "x"})
    with pytest.raises(ConfigError, match=r"OneCycleLR', which is registered as scheduler, not as opt"):
        optimizer_factory({"_target_": "torch.optim.lr_scheduler.OneCycleLR", "max_lr": 1})
    with pytest.raises(ConfigError, match=r"'scheduler._target_' names 'os.makedirs', which is not allowed"):
        scheduler_factory(attack(tmp_path))
    with pytest.raises(ConfigError, match=r"names 'torch.optim.Adam', which is registered as optimizer"):
        scheduler_factory(ADAM)
    with pytest.raises(ConfigError, match=r"'callbacks.evil._target_' names 'os.makedirs', which is not allowed"):
        build_callbacks({"evil": attack(tmp_path)})
    assert not (tmp_path / "pwned").exists()


def test_trainer_keys_are_those_lightning_takes():
    check_trainer_keys({"max_epochs": 1, "accelerator": "cpu"})
    with pytest.raises(ConfigError, match=r"unknown key 'trainer.max_epoch' \(did you mean 'trainer.max_epochs'\?\)"):
        check_trainer_keys({"max_epoch": 1})


def shared_checkpoint(path, model_spec):
    """A checkpoint as someone might share it: real weights, and a config naming what to build."""
    model = SmallCNN()
    config = to_plain(compose_config())
    config["model"] = model_spec
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "hyper_parameters": {"model": model_spec, "optimizer": ADAM, "num_classes": 10},
                "pytorch-lightning_version": "2.6.6", "config": config, "mlflow_run_id": "x"}, path)
    return path


def test_a_shared_checkpoint_cannot_run_code(tmp_path):
    checkpoint = shared_checkpoint(tmp_path / "shared.ckpt",
                                   {"_target_": "mnist_pipeline.models.SmallCNN", "dropout": attack(tmp_path)})
    with pytest.raises(ConfigError, match=r"shared.ckpt: 'hyper_parameters.model.dropout._target_' names 'os.m"):
        load_checkpoint(checkpoint)
    assert not (tmp_path / "pwned").exists()

    # The same through the command a user runs on a downloaded checkpoint: one line, nothing run.
    hub = shared_checkpoint(tmp_path / "hub.ckpt", {"_target_": "torch.hub.load", "repo_or_dir": "attacker/x"})
    result = subprocess.run([sys.executable, "-m", "mnist_pipeline.predict", "--checkpoint", str(hub), "--index", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {hub}: 'hyper_parameters.model._target_' names 'torch.hub.load'")


def test_a_good_shared_checkpoint_loads(tmp_path):
    checkpoint = shared_checkpoint(tmp_path / "good.ckpt", {"_target_": "mnist_pipeline.models.SmallCNN"})
    model, raw = load_checkpoint(checkpoint)
    assert isinstance(model, SmallCNN) and not model.training and raw["mlflow_run_id"] == "x"


def test_a_checkpoint_whose_weights_do_not_fit_its_model_is_refused(tmp_path):
    checkpoint = shared_checkpoint(tmp_path / "odd.ckpt", {"_target_": "mnist_pipeline.models.SmallCNN"})
    raw = torch.load(checkpoint, weights_only=True)
    raw["hyper_parameters"]["model"] = raw["config"]["model"] = {"_target_": "mnist_pipeline.models.MLP"}
    torch.save(raw, checkpoint)
    with pytest.raises(PipelineError, match=r"odd.ckpt: its weights do not fit the model it names") as err:
        load_checkpoint(checkpoint)
    assert "\n" not in str(err.value)
