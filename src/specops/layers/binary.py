"""BiPer: binary weights through a periodic function (Vargas, Jacome, Fonseca, Arguello, "BiPer: Binary
Neural Networks using a Periodic Function", CVPR 2024, sec. 3).

The binary weights are the signs of a periodic function of the latent real weights ``w``; the forward pass
uses the square wave, the backward pass the gradient of the sine it is the sign of:

    forward:   w_b = alpha * sign(sin(omega w))
    backward:  d w_b / d w = alpha * omega cos(omega w)

(the straight-through estimator taken through ``sin`` instead of the identity, which the paper shows
controls the quantization error through ``omega``). ``alpha`` is the mean ``|w|`` of each output row (the
scaling of XNOR-Net, Rastegari et al., ECCV 2016), treated as a constant of the row in the backward pass.
``binarize_`` applies it to the weight matrices of a module as a ``torch.nn.utils.parametrize``
parametrization, so state dicts keep the latent weights and a rebuilt model loads them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize


class BiPer(nn.Module):
    """The parametrization ``w -> alpha sign(sin(omega w))`` with the gradient of ``alpha sin(omega w)``.

    Parameters
    ----------
    omega : float
        Frequency of the periodic function (default ``pi / 2``: for latent weights in ``(-2, 2)`` the sign
        is that of ``w``).
    """

    def __init__(self, omega: float = math.pi / 2) -> None:
        super().__init__()
        if not omega > 0:
            raise ValueError(f"omega={omega} must be positive")
        self.omega = float(omega)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        s = torch.sin(self.omega * w)
        binary = s + (torch.sign(s) - s).detach()
        alpha = w.detach().abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
        return alpha * binary


def binarize_(module: nn.Module, omega: float = math.pi / 2) -> nn.Module:
    """Make every ``weight`` of ``module`` (and its children) with two or more axes binary (BiPer), in place."""
    for sub in list(module.modules()):
        weight = sub._parameters.get("weight") if not parametrize.is_parametrized(sub, "weight") else None
        if weight is not None and weight.dim() >= 2:
            parametrize.register_parametrization(sub, "weight", BiPer(omega))
    return module
