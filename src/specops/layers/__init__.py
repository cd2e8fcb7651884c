"""Neural-network building blocks (nn.Modules) of the spectral operators.

Layers receive built objects (weight factories, skip modules, activation functions); the ``*Spec``
dataclasses hold the same choices as plain data, the form a model's constructor and its checkpoint keep.
"""

from specops.layers.activations import get_activation
from specops.layers.attention import FourierKArAtAttention
from specops.layers.attention_rpe import KernelizedRPEAttention
from specops.layers.block_options import BiPer, EvoNormB0, EvoNormS0, binarize_
from specops.layers.embeddings import GridEmbedding
from specops.layers.factorized import CPWeight, LowRankWeight, TTWeight, TuckerWeight
from specops.layers.fdconv import FDConv
from specops.layers.fno_block import FNOBlock, FNOBlockSpec
from specops.layers.fourier_mixers import AFFMixer, FFCMixer
from specops.layers.lifting import Lifting, make_projection
from specops.layers.local_conv import WeightedConv
from specops.layers.mixers import MIXERS
from specops.layers.mlp import ChannelMLP, PointwiseLinear
from specops.layers.norms import ChannelLayerNorm, InstanceNorm
from specops.layers.nuft import GaussianNUFT, direct_type1, direct_type2
from specops.layers.nuft_layers import NUFTInput, NUFTOutput, cell_weights
from specops.layers.padding import DomainPadding
from specops.layers.skips import IdentitySkip, LinearSkip, NoSkip, SoftGatingSkip, make_skip
from specops.layers.spectral_conv import SpectralConv, SpectralConvSpec
from specops.layers.spectral_weight import DenseWeight, SpectralWeight
from specops.layers.weight_spec import SpectralWeightSpec

__all__ = [
    "MIXERS",
    "AFFMixer",
    "BiPer",
    "CPWeight",
    "ChannelLayerNorm",
    "ChannelMLP",
    "DenseWeight",
    "DomainPadding",
    "EvoNormB0",
    "EvoNormS0",
    "FDConv",
    "FFCMixer",
    "FNOBlock",
    "FNOBlockSpec",
    "FourierKArAtAttention",
    "GaussianNUFT",
    "GridEmbedding",
    "IdentitySkip",
    "InstanceNorm",
    "KernelizedRPEAttention",
    "Lifting",
    "LinearSkip",
    "LowRankWeight",
    "NUFTInput",
    "NUFTOutput",
    "NoSkip",
    "PointwiseLinear",
    "SoftGatingSkip",
    "SpectralConv",
    "SpectralConvSpec",
    "SpectralWeight",
    "SpectralWeightSpec",
    "TTWeight",
    "TuckerWeight",
    "WeightedConv",
    "binarize_",
    "cell_weights",
    "direct_type1",
    "direct_type2",
    "get_activation",
    "make_projection",
    "make_skip",
]
