"""The model zoo: plain nn.Modules taking [N, 1, 28, 28] floats and returning [N, 10] logits.

Each model has a config in conf/model/ whose `_target_` points here.
"""

from .deep_cnn import DeepCNN
from .fast_cnn import FastCNN
from .mlp import MLP
from .small_cnn import SmallCNN
from .two_layer import TwoLayerNet

__all__ = ["DeepCNN", "FastCNN", "MLP", "SmallCNN", "TwoLayerNet"]
