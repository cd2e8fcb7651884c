"""Neural-network building blocks (nn.Modules) of the spectral operators.

Layers receive built objects (weight factories, skip modules, activation functions); the ``*Spec``
dataclasses hold the same choices as plain data, the form a model's constructor and its checkpoint keep.
"""

from specops.layers.activations import get_activation
from specops.layers.embeddings import GridEmbedding
from specops.layers.factorized import CPWeight, LowRankWeight, TTWeight, TuckerWeight
from specops.layers.fno_block import FNOBlock, FNOBlockSpec
from specops.layers.lifting import Lifting, make_projection
from specops.layers.mlp import ChannelMLP, PointwiseLinear
from specops.layers.norms import ChannelLayerNorm, InstanceNorm
from specops.layers.padding import DomainPadding
from specops.layers.skips import IdentitySkip, LinearSkip, NoSkip, SoftGatingSkip, make_skip
from specops.layers.spectral_conv import SpectralConv, SpectralConvSpec
from specops.layers.spectral_weight import DenseWeight, SpectralWeight
from specops.layers.weight_spec import SpectralWeightSpec

__all__ = [
    "CPWeight",
    "ChannelLayerNorm",
    "ChannelMLP",
    "DenseWeight",
    "DomainPadding",
    "FNOBlock",
    "FNOBlockSpec",
    "GridEmbedding",
    "IdentitySkip",
    "InstanceNorm",
    "Lifting",
    "LinearSkip",
    "LowRankWeight",
    "NoSkip",
    "PointwiseLinear",
    "SoftGatingSkip",
    "SpectralConv",
    "SpectralConvSpec",
    "SpectralWeight",
    "SpectralWeightSpec",
    "TTWeight",
    "TuckerWeight",
    "get_activation",
    "make_projection",
    "make_skip",
]
