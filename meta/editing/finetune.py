"""Fine-tuning baselines for model editing: plain (FT) and with a KL locality term (FT+KL).

FT takes Adam steps on the edits' negative log-likelihood over the chosen
weights until every edit is answered (at most ``steps``), as the fine-tuning
baseline of MEND (Mitchell et al., ICLR 2022, Sec. 5) and SERAC (Mitchell et
al., ICML 2022) does on the same layers the editors edit.  FT+KL adds the KL
divergence from the unedited model's answers on a batch of unrelated
questions, MEND's FT+KL baseline (after Zhu et al., 2020, who constrain
fine-tuning for the same purpose): it trades edit success for less drawdown.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from meta.editing.editor import Edit, check_fine_tuning, check_layers, encode_edits, locality_kl, with_weights
from meta.editing.knowledge import Vocabulary

__all__ = ["FineTuneEditor"]


class FineTuneEditor:
    """Edit by gradient steps on the edits' NLL (+ ``kl_weight`` x locality KL on ``locality_tokens``)."""

    def __init__(self, vocab: Vocabulary, max_length: int, layers: Sequence[str], *, steps: int = 40, lr: float = 1e-2,
                 kl_weight: float = 0.0, locality_tokens: Tensor | None = None, locality_batch: int = 64,
                 seed: int = 0) -> None:
        check_fine_tuning(steps, lr, kl_weight, locality_tokens,
                          "FT+KL needs locality_tokens: unrelated questions whose answers it keeps")
        self.vocab, self.max_length, self.layers = vocab, max_length, tuple(layers)
        self.steps, self.lr, self.kl_weight = steps, lr, kl_weight
        self.locality_tokens, self.locality_batch = locality_tokens, locality_batch
        self.generator = torch.Generator().manual_seed(seed)
        self.name = "FT+KL" if kl_weight > 0 else "FT"

    def edit(self, model: nn.Module, edits: Sequence[Edit]) -> nn.Module:
        request = encode_edits(self.vocab, self.max_length, edits)
        check_layers(model, self.layers, self.name)
        params = dict(model.named_parameters())
        device = params[self.layers[0]].device
        request = request.to(device)
        frozen = {n: p.detach() for n, p in params.items()}
        weights = {n: frozen[n].clone().requires_grad_(True) for n in self.layers}
        optimizer = torch.optim.Adam(weights.values(), lr=self.lr)
        for _ in range(self.steps):
            logits = functional_call(model, frozen | weights, (request.tokens,))
            if bool((logits.argmax(-1) == request.answers).all()):
                break
            loss = F.cross_entropy(logits, request.answers)
            if self.kl_weight > 0:
                loss = loss + self.kl_weight * self._locality(model, frozen, weights, device)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return with_weights(model, {n: w.detach() for n, w in weights.items()})

    def _locality(self, model, frozen, weights, device) -> Tensor:
        index = torch.randint(len(self.locality_tokens), (self.locality_batch,), generator=self.generator)
        tokens = self.locality_tokens[index].to(device)
        with torch.no_grad():
            reference = functional_call(model, frozen, (tokens,))
        return locality_kl(reference, functional_call(model, frozen | weights, (tokens,)))
