"""Layers for meta-learning symmetries by reparametrization.

MSR (Zhou, Knowles & Finn, ICLR 2021, Sec. 4.1, eq. 3) writes a layer's weight
as ``vec(W) = U v``: the sharing matrix ``U`` (which weights are tied, i.e. the
layer's symmetry) is meta-learned in the outer loop, and the filter ``v`` is
adapted per task in the inner loop.  With ``U`` the 0/1 matrix below
(``conv_sharing_matrix``), ``U v`` is exactly a 1-D convolution with filter
``v``; with other ``U`` it is any linear layer whose weights live in a
``latent``-dimensional subspace.

The MAML baselines of the paper's synthetic table (Table 1) are single
bias-free layers mapping a length-70 signal to length 68: fully connected
(``nn.Linear``), locally connected (one kernel-3 filter per output position,
``LocallyConnected1d``) and convolutional (one shared kernel-3 filter,
``Conv1dSignal``).  Every model here maps ``(batch, length_in)`` to
``(batch, length_out)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ReparamLinear", "ReparamConv1d", "LocallyConnected1d", "Conv1dSignal", "conv_sharing_matrix"]


def _positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def conv_sharing_matrix(length_in: int, kernel_size: int) -> Tensor:
    """The ``U`` of a valid (unpadded), stride-1 1-D convolution, shape (out*in, kernel).

    Column ``k`` places filter tap ``k`` at weight ``W[j, j + k]`` of every
    output position ``j``, so ``(U @ v).view(out, in)`` is the Toeplitz matrix
    of the convolution with filter ``v``.
    """
    _positive(length_in=length_in, kernel_size=kernel_size)
    if kernel_size > length_in:
        raise ValueError(f"kernel_size {kernel_size} exceeds length_in {length_in}; a valid convolution needs kernel <= length")
    length_out = length_in - kernel_size + 1
    sharing = torch.zeros(length_out, length_in, kernel_size)
    rows = torch.arange(length_out)
    for tap in range(kernel_size):
        sharing[rows, rows + tap, tap] = 1.0
    return sharing.reshape(length_out * length_in, kernel_size)


class ReparamLinear(nn.Module):
    """A bias-free linear layer with weight ``(U @ v).view(out, in)`` (MSR-FC).

    ``U`` (``sharing``) starts as N(0, 0.01^2) and ``v`` (``filter``) as
    N(0, (1/out)^2), the initialisation of the authors' code.
    """

    def __init__(self, in_features: int, out_features: int, latent: int) -> None:
        super().__init__()
        _positive(in_features=in_features, out_features=out_features, latent=latent)
        self.in_features, self.out_features, self.latent = in_features, out_features, latent
        self.sharing = nn.Parameter(torch.randn(out_features * in_features, latent) * 0.01)
        self.filter = nn.Parameter(torch.randn(latent) / out_features)

    def weight(self) -> Tensor:
        return (self.sharing @ self.filter).view(self.out_features, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight())

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, latent={self.latent}"


class ReparamConv1d(nn.Module):
    """A bias-free 1-D convolution whose kernel is ``(U @ v).view(out_ch, in_ch, kernel)`` (MSR-Conv).

    The paper's variant for learning symmetries beyond translation on top of
    a convolution (Sec. 4.1): ``U`` ties the taps and channels of the kernel.
    Input ``(batch, in_channels, length)``; with ``in_channels == 1`` a
    ``(batch, length)`` signal is accepted and a ``(batch, out_channels * length_out)``
    signal returned.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, latent: int) -> None:
        super().__init__()
        _positive(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, latent=latent)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.latent = latent
        self.sharing = nn.Parameter(torch.randn(out_channels * in_channels * kernel_size, latent) * 0.01)
        self.filter = nn.Parameter(torch.randn(latent) / out_channels)

    def weight(self) -> Tensor:
        return (self.sharing @ self.filter).view(self.out_channels, self.in_channels, self.kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            if self.in_channels != 1:
                raise ValueError(f"a (batch, length) signal needs in_channels == 1; this layer has {self.in_channels}")
            return F.conv1d(x.unsqueeze(1), self.weight()).flatten(1)
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (batch, {self.in_channels}, length) or (batch, length); got {tuple(x.shape)}")
        return F.conv1d(x, self.weight())


class LocallyConnected1d(nn.Module):
    """One kernel per output position, no sharing: ``y[j] = sum_k W[j, k] x[j + k]`` (MAML-LC).

    Initialised like ``nn.Conv1d`` (uniform, bound ``1/sqrt(kernel_size)``).
    """

    def __init__(self, length_in: int, kernel_size: int) -> None:
        super().__init__()
        _positive(length_in=length_in, kernel_size=kernel_size)
        if kernel_size > length_in:
            raise ValueError(f"kernel_size {kernel_size} exceeds length_in {length_in}")
        self.length_in, self.kernel_size = length_in, kernel_size
        self.length_out = length_in - kernel_size + 1
        bound = 1.0 / math.sqrt(kernel_size)
        self.weight = nn.Parameter(torch.empty(self.length_out, kernel_size).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.length_in:
            raise ValueError(f"expected signals of length {self.length_in}, got shape {tuple(x.shape)}")
        windows = x.unfold(-1, self.kernel_size, 1)  # (..., length_out, kernel)
        return (windows * self.weight).sum(-1)


class Conv1dSignal(nn.Module):
    """A single-channel, bias-free valid convolution on ``(batch, length)`` signals (MAML-Conv)."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        _positive(kernel_size=kernel_size)
        self.conv = nn.Conv1d(1, 1, kernel_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x.unsqueeze(-2)).squeeze(-2)
