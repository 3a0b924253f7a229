"""The one checker of what a config or checkpoint may name: exact registered classes, every
argument checked against the class's signature and range before anything is built."""

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from conftest import compose_config
from mnist_pipeline.core.config import validate
from mnist_pipeline.core.errors import ConfigError
from mnist_pipeline.core.specs import INIT_NAMES, REGISTERED, _resolve, check_spec, check_targets
from mnist_pipeline.models.init import INITS

BASES = {"model": torch.nn.Module, "optimizer": torch.optim.Optimizer,
         "scheduler": torch.optim.lr_scheduler.LRScheduler, "callback": Callback}


def test_every_registered_name_is_a_class_of_its_kind():
    for name, kind in REGISTERED.items():
        cls = _resolve(name)
        assert isinstance(cls, type) and issubclass(cls, BASES[kind]), name


def test_the_checkers_copy_of_the_init_names_equals_the_models():
    assert sorted(INIT_NAMES) == sorted(INITS)


@pytest.mark.parametrize(("override", "message"), [
    ("model=small_cnn model.dropout=2", r"'model.dropout' must be a number in \[0, 1\), got 2"),
    ("model=small_cnn model.dropout=abc", r"'model.dropout' must be a number in \[0, 1\), got 'abc'"),
    ("model=small_cnn model.dropout=-0.1", r"'model.dropout' must be a number in \[0, 1\)"),
    ("model=mlp model.hidden1=100000000000", r"'model.hidden1' must be a whole number from 1 to 4,096"),
    ("model=mlp model.hidden2=2.5", r"'model.hidden2' must be a whole number"),
    ("model=mlp model.init=evil", r"'model.init' must be one of default"),
    ("+optimizer.betas=[0.9]", r"'optimizer.betas' must be two numbers in \[0, 1\)"),
    ("+optimizer.amsgrad=yes", r"'optimizer.amsgrad' must be true or false, got 'yes'"),
    ("optimizer=sgd optimizer.momentum=-1", r"'optimizer.momentum' must be a number ≥ 0"),
    ("+model.num_classes=10", r"unknown key 'model.num_classes'"),
    ("model._target_=mnist_pipeline.models.small_cnn.nn.Identity", r"nn.Identity', which is not allowed"),
    ("+data.extra._target_=os.system", r"'data.extra._target_' names 'os.system', which is not allowed"),
    ("optimizer=adam +scheduler._target_=torch.optim.lr_scheduler.OneCycleLR", r"missing key 'scheduler.max_lr'"),
    ("+callbacks.x._target_=builtins.eval", r"'callbacks.x._target_' names 'builtins.eval', which is not allowed"),
])
def test_every_model_and_optimizer_argument_in_params_is_checked_by_key(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose_config(override.split()), source="params.yaml")


def test_a_forbidden_target_is_found_at_any_depth():
    deep = {"a": [{"b": {"c": [[{"_target_": "os.system"}]]}}]}
    with pytest.raises(ConfigError, match=r"f.ckpt: 'x.a\[0\].b.c\[0\]\[0\]._target_' names 'os.system'"):
        check_targets({"x": deep}, "f.ckpt")
    with pytest.raises(ConfigError, match="nested more than 100 levels deep"):
        nested = []
        for _ in range(200):
            nested = [nested]
        check_targets(nested, "f.ckpt")


def test_a_registered_class_is_returned_with_its_checked_arguments():
    cls, arguments = check_spec({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1, "momentum": 0.9},
                                "optimizer", supplied=("params",))
    assert cls is torch.optim.SGD and arguments == {"lr": 0.1, "momentum": 0.9}
