"""Meta-learning symmetries by reparametrization (Zhou, Knowles & Finn, ICLR 2021).

``MSR`` / ``MSRConfig`` and the ``MAML`` / ``MAMLConfig`` baselines on the
seeded synthetic 1-D family of the paper's Table 1 (``SymmetryTasks``), and the
layers they use: ``ReparamLinear`` and ``ReparamConv1d`` (W = reshape(U v)),
``LocallyConnected1d``, ``Conv1dSignal`` and ``conv_sharing_matrix``.
"""

from meta.symmetry.data import PROBLEMS, Problem, SymmetryTasks
from meta.symmetry.layers import Conv1dSignal, LocallyConnected1d, ReparamConv1d, ReparamLinear, conv_sharing_matrix
from meta.symmetry.learner import MAML, MSR, PAPER_LATENT, MAMLConfig, MSRConfig, t_interval_95

__all__ = [
    "MSR",
    "MSRConfig",
    "MAML",
    "MAMLConfig",
    "PAPER_LATENT",
    "PROBLEMS",
    "Problem",
    "SymmetryTasks",
    "ReparamLinear",
    "ReparamConv1d",
    "LocallyConnected1d",
    "Conv1dSignal",
    "conv_sharing_matrix",
    "t_interval_95",
]
