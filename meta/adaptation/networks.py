"""The networks of the group-shift learners: a small conv net whose batch norm takes its
statistics from where the caller says, ARM-CML's context net and ARM-LL's learned loss.

Shapes follow the batches: inputs are (groups, examples, channels, 16, 16) and
logits (groups, examples, classes).  ``stats`` picks the batch-norm statistics:

* ``"running"``: the running averages (ordinary evaluation);
* ``"batch"``: the statistics of all examples of the call (ordinary training;
  running averages are updated while the module is in training mode);
* ``"group"``: each group's own statistics (ARM-BN, BN-adapt and TENT at test
  time, where the group is the unlabeled test batch); running averages are
  neither used nor updated.

The sizes follow the ARM repo's MNIST ``ConvNet`` scaled to 16x16 digits:
conv-BN-ReLU blocks that halve the resolution twice, global average pooling, a
2-layer head.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvNet", "ContextNet", "LearnedLoss", "Stats", "normalize"]

Stats = Literal["running", "batch", "group"]


def normalize(norm: nn.BatchNorm2d, h: Tensor, groups: int, stats: Stats) -> Tensor:
    """``norm`` applied to ``h`` (groups * examples, C, H, W) with the statistics ``stats`` names."""
    if stats == "running":
        return F.batch_norm(h, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps)
    if stats == "batch":
        track = norm.training
        return F.batch_norm(h, norm.running_mean if track else None, norm.running_var if track else None,
                            norm.weight, norm.bias, True, norm.momentum, norm.eps)
    if stats == "group":
        # fold the groups into the channel axis, so one batch_norm call takes per-group statistics
        n, c = h.shape[0] // groups, h.shape[1]
        folded = h.reshape(groups, n, c, *h.shape[2:]).transpose(0, 1).reshape(n, groups * c, *h.shape[2:])
        out = F.batch_norm(folded, None, None, norm.weight.repeat(groups), norm.bias.repeat(groups), True, 0.0, norm.eps)
        return out.reshape(n, groups, c, *h.shape[2:]).transpose(0, 1).reshape(h.shape)
    raise ValueError(f"stats must be 'running', 'batch' or 'group', got {stats!r}")


class _ConvBlocks(nn.Module):
    """Conv (same padding; stride 2 where ``downsample``), batch norm and ReLU per layer; ``raw_last``
    leaves the last conv's output as it is (no norm, no ReLU).

    Strided convolutions rather than the ARM repo's max pooling: on a CPU, max
    pooling and its backward took a third of an update's time here.
    """

    def __init__(self, channels: list[int], kernel: int, downsample: list[bool], *, raw_last: bool = False) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, kernel, stride=2 if down else 1, padding=kernel // 2)
            for a, b, down in zip(channels, channels[1:], downsample)
        )
        normed = channels[1:-1] if raw_last else channels[1:]
        self.norms = nn.ModuleList(nn.BatchNorm2d(b) for b in normed)

    def forward(self, h: Tensor, groups: int, stats: Stats) -> Tensor:
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.norms):
                h = F.relu(normalize(self.norms[i], h, groups, stats))
        return h


class ConvNet(nn.Module):
    """Three conv-BN-ReLU blocks (width, 2 width, 2 width; 3x3; strided to 4x4), average pool, 2-layer head."""

    def __init__(self, in_channels: int = 1, classes: int = 10, width: int = 32, features: int = 128) -> None:
        super().__init__()
        self.blocks = _ConvBlocks([in_channels, width, 2 * width, 2 * width], 3, [True, True, False])
        self.hidden = nn.Linear(2 * width, features)
        self.out = nn.Linear(features, classes)
        self.num_features = features

    def features(self, x: Tensor, stats: Stats = "batch") -> Tensor:
        """(groups, examples, features) before the classification layer."""
        groups, examples = x.shape[:2]
        h = self.blocks(x.flatten(0, 1), groups, stats).mean(dim=(2, 3))
        return F.relu(self.hidden(h)).reshape(groups, examples, -1)

    def forward(self, x: Tensor, stats: Stats = "batch") -> Tensor:
        return self.out(self.features(x, stats))


class ContextNet(nn.Module):
    """ARM-CML's per-example context: three 3x3 convs (BN between; the first strided to 8x8), ``context``
    channels out, upsampled back to the input's 16x16 so it can be concatenated as channels.

    The ARM repo's context net runs three 5x5 convs at full resolution; at half
    resolution it costs a quarter as much here and the context, a summary of the
    group, needs no pixel-level detail.
    """

    def __init__(self, in_channels: int = 1, context: int = 12, hidden: int = 16) -> None:
        super().__init__()
        self.blocks = _ConvBlocks([in_channels, hidden, hidden, context], 3, [True, False, False], raw_last=True)

    def forward(self, x: Tensor, stats: Stats = "batch") -> Tensor:
        groups, examples = x.shape[:2]
        h = F.interpolate(self.blocks(x.flatten(0, 1), groups, stats), size=x.shape[-2:], mode="nearest")
        return h.reshape(groups, examples, *h.shape[1:])


class LearnedLoss(nn.Module):
    """ARM-LL's unsupervised loss of one batch's logits: an MLP per example, then the norm of its outputs.

    The ARM repo's ``MLP(norm_reduce=True)``: 3 hidden layers of 32, one output per
    example, reduced with the L2 norm over the batch, so the loss is >= 0 and
    permutation invariant.
    """

    def __init__(self, classes: int = 10, hidden: int = 32) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, logits: Tensor) -> Tensor:
        return torch.linalg.vector_norm(self.mlp(logits))
