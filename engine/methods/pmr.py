"""PMR: "PMR: Prototypical Modal Rebalance for Multimodal Learning" (Fan, Xu, Wang, Wang,
Guo, CVPR 2023).

Each modality keeps one prototype per class: the class mean of its encoder features over the
training split, recomputed before each epoch and mixed with the previous prototypes,
P <- (1 - momentum) P_new + momentum P_old. A modality's prototypical prediction is the
softmax of minus the Euclidean distance to its prototypes; its score s_j the summed
probability of the true class on the batch. The weaker modality (lower score; with more than
two, every modality but the strongest) adds alpha times the cross-entropy of its prototypical
prediction (the prototypical rebalance loss) to the fused cross-entropy, as in the released
code. The paper's prototypical entropy regulariser of the first epochs is not included.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.base import Method, split_features


def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(classes, d): the mean feature of each class (zeros for a class without samples)."""
    sums = torch.zeros(num_classes, features.shape[1], dtype=features.dtype).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=num_classes).clamp_min(1).to(features.dtype)
    return sums / counts[:, None]


def prototype_logits(features: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    return -torch.cdist(features, prototypes)


class PMR(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.pmr
        self.prototypes: dict[str, torch.Tensor] = {}
        self.last_weights: dict[str, float] = {}

    def on_fit_start(self, run, optimizer):
        self.num_classes = run.data.num_classes
        self.update_prototypes(run.model, run.data.train, first=True)

    def update_prototypes(self, model, split, first: bool = False) -> None:
        feats, labels = split_features(model, split, self.recipe.data.eval_batch_size)
        for m, f in feats.items():
            new = class_means(f, labels, self.num_classes)
            mom = 0.0 if first or m not in self.prototypes else self.cfg.momentum
            self.prototypes[m] = (1 - mom) * new + mom * self.prototypes.get(m, new)

    def weights(self, scores: dict[str, float]) -> dict[str, float]:
        """alpha for every modality but the strongest (the highest score), 0 for it."""
        strongest = max(scores.values())
        return {m: (self.cfg.alpha if s < strongest else 0.0) for m, s in scores.items()}

    def loss(self, out, labels, step):
        l_cls = F.cross_entropy(out.logits, labels)
        proto = {m: prototype_logits(f, self.prototypes[m]) for m, f in out.features.items()}
        with torch.no_grad():
            scores = step.summed({m: float(torch.softmax(p, 1).gather(1, labels[:, None]).sum())
                                  for m, p in proto.items()})  # over the global batch under DDP
        weights = self.weights(scores)
        terms = {"cls": l_cls}
        total = l_cls
        for m, p in proto.items():
            terms[f"proto_{m}"] = F.cross_entropy(p, labels)
            total = total + weights[m] * terms[f"proto_{m}"]
        scored = {f"score_{m}": torch.tensor(s, dtype=torch.float64) for m, s in scores.items()}
        return {"total": total, **terms, **scored}

    def on_after_backward(self, out, labels, losses, step):
        self.last_weights = self.weights({m: float(losses[f"score_{m}"]) for m in out.features})

    def on_validation_end(self, run, epoch):
        self.update_prototypes(run.model, run.data.train)
        return None

    def state_dict(self):
        return {"prototypes": {m: p.clone() for m, p in self.prototypes.items()}}

    def load_state_dict(self, state):
        if state.get("prototypes"):
            self.prototypes = {m: p.clone() for m, p in state["prototypes"].items()}
