"""The small causal transformer that learns the knowledge base, and that editors edit.

A GPT-style stack (pre-norm blocks of causal self-attention and a two-layer
MLP, learned positions) reads a right-padded question and predicts its answer
from the last real token.  Attention is written out (one ``qkv`` projection,
softmax of scaled dot products) rather than ``nn.MultiheadAttention``
so that ``torch.func.vmap`` can run one edited copy of the weights per edit
(MEND's meta-training) and so every weight an editor may touch has a plain
name: ``blocks.{i}.mlp.fc_in.weight``, ``blocks.{i}.mlp.fc_out.weight`` (ROME
and MEND edit these), ``blocks.{i}.attention.qkv.weight``, ...

Right padding with a causal mask needs no padding mask: a real token only
attends to earlier tokens, which are all real.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FactModel", "FactModelShape"]


@dataclass(frozen=True)
class FactModelShape:
    """Everything that fixes a ``FactModel`` 's parameters, saved beside its weights."""

    vocab_size: int
    max_length: int
    width: int = 128
    depth: int = 2
    heads: int = 4
    #: output classes (None: one per vocabulary word, as a language model's head)
    outputs: int | None = None


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        # written out rather than F.scaled_dot_product_attention, which vmap runs one edit at a time on CPU
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        mixed = scores.masked_fill(~causal, float("-inf")).softmax(-1) @ v
        return self.proj(mixed.transpose(1, 2).reshape(batch, length, width))


class MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc_in = nn.Linear(width, 4 * width)
        self.fc_out = nn.Linear(4 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_out(F.gelu(self.fc_in(x)))


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = MLP(width)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.attention_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class FactModel(nn.Module):
    """Question tokens [B, L] (right-padded with id 0) -> answer logits [B, outputs]."""

    def __init__(self, shape: FactModelShape) -> None:
        super().__init__()
        self.shape = shape
        self.embedding = nn.Embedding(shape.vocab_size, shape.width)
        self.position = nn.Parameter(torch.randn(shape.max_length, shape.width) * 0.02)
        self.blocks = nn.ModuleList(Block(shape.width, shape.heads) for _ in range(shape.depth))
        self.final_norm = nn.LayerNorm(shape.width)
        self.head = nn.Linear(shape.width, shape.outputs or shape.vocab_size)

    def features(self, tokens: Tensor) -> Tensor:
        """The final hidden state [B, width] at each question's last real token."""
        if tokens.shape[-1] > self.shape.max_length:
            raise ValueError(f"questions of {tokens.shape[-1]} tokens exceed the model's {self.shape.max_length}")
        x = self.embedding(tokens) + self.position[: tokens.shape[-1]]
        for block in self.blocks:
            x = block(x)
        last = (tokens != 0).sum(dim=-1).clamp(min=1) - 1
        return self.final_norm(x.gather(1, last[:, None, None].expand(-1, 1, x.shape[-1])).squeeze(1))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.features(tokens))
