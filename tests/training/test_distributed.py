import pytest
from pytorch_lightning.utilities import rank_zero_only

from mnist_pipeline.core.errors import ConfigError
from mnist_pipeline.training.distributed import check_no_relaunch_in_sweep, launched_as_rank_zero


@pytest.mark.parametrize(("rank", "node_rank", "expected"), [(0, None, True), (1, None, False), (0, "1", False),
                                                             (0, "0", True)])
def test_only_the_first_process_of_the_first_node_is_rank_zero(monkeypatch, rank, node_rank, expected):
    monkeypatch.setattr(rank_zero_only, "rank", rank)
    if node_rank is None:
        monkeypatch.delenv("NODE_RANK", raising=False)
    else:
        monkeypatch.setenv("NODE_RANK", node_rank)
    assert launched_as_rank_zero() is expected


@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn"])
def test_processes_lightning_would_start_are_refused_in_a_sweep(strategy):
    with pytest.raises(ConfigError, match=rf"conf/: trainer.strategy={strategy} with 2 processes cannot run inside"):
        check_no_relaunch_in_sweep({"strategy": strategy, "devices": 2, "accelerator": "cpu"}, "conf/")


def test_one_process_passes():
    check_no_relaunch_in_sweep({"accelerator": "cpu", "devices": 1}, "conf/")
