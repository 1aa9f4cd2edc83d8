"""Temperature scaling (Guo et al. 2017, arXiv 1706.04599): one scalar T, fitted on held-out labels.

Dividing the logits by T > 1 softens over-confident probabilities; T < 1 sharpens them. The
argmax - and so the accuracy - never changes; only the confidence does.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> float:
    """The T that minimises the negative log-likelihood of ``labels`` under softmax(logits / T).

    Fit it on labelled data the model was *not* trained on (a validation part), never on the
    test set. Optimises log T, so T stays positive.
    """
    if len(logits) != len(labels) or len(logits) == 0:
        raise ValueError(f"need as many labels as logits (got {len(logits)} and {len(labels)}), and at least one")
    logits, labels = logits.detach().float(), labels.long()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Calibrated probabilities: softmax(logits / T)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, not {temperature}")
    return torch.softmax(logits / temperature, dim=1)
