"""G-Blend: "What Makes Training Multi-modal Classification Networks Hard?" (Wang, Tran,
Feiszli, CVPR 2020), online gradient blending.

Besides the fused classifier, each modality has its own linear head on its features; the loss
is sum_k w_k L_k over the heads k (each modality, and the fused one). Every `super_epoch`
epochs the weights are re-estimated from the overfitting-to-generalisation ratio measured over
that super-epoch: with G_k the held-out loss and O_k = G_k - T_k (T_k the training loss),
w_k proportional to Delta G_k / (Delta O_k)^2, Delta G_k = G_k(before) - G_k(after) and
Delta O_k = O_k(after) - O_k(before); a head whose held-out loss did not fall gets weight 0;
the weights sum to 1. The held-out losses are measured, as in the paper, on a validation set:
the engine's validation split, carved out of the training data (never the test split); it is
also the split that picks the best checkpoint. The weights start equal.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.base import Method, attach_aux_heads, split_features

FUSED = "fused"


def blend_weights(train_before: dict, train_after: dict, val_before: dict, val_after: dict,
                  eps: float = 1e-8) -> dict[str, float] | None:
    """w_k = (1/Z) dG_k / dO_k^2 over the heads k; None when no head generalised better."""
    raw = {}
    for k in val_before:
        d_g = val_before[k] - val_after[k]
        d_o = (val_after[k] - train_after[k]) - (val_before[k] - train_before[k])
        raw[k] = max(d_g, 0.0) / max(d_o * d_o, eps)
    z = sum(raw.values())
    return {k: v / z for k, v in raw.items()} if z > 0 else None


class GBlend(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.gblend
        self.weights: dict[str, float] = {}
        self.reference: dict | None = None  # head losses at the start of the super-epoch

    def configure_model(self, model, data):
        attach_aux_heads(model, data.num_classes, self.recipe.model.feature_dim)
        heads = [FUSED, *model.modalities]
        self.weights = {k: 1.0 / len(heads) for k in heads}

    def on_fit_start(self, run, optimizer):
        self.reference = self.measure(run)

    @torch.no_grad()
    def measure(self, run) -> dict:
        """Every head's mean cross-entropy on the training and the validation split."""
        model, out = run.model, {}
        bs = self.recipe.data.eval_batch_size
        for split in ("train", "val"):
            feats, labels = split_features(model, run.data.split(split), bs)
            was = model.training
            model.eval()
            losses = {FUSED: float(F.cross_entropy(model.fusion(feats), labels))}
            losses.update({m: float(F.cross_entropy(model.aux_heads[m](f), labels)) for m, f in feats.items()})
            model.train(was)
            out[split] = losses
        return out

    def loss(self, out, labels, step):
        l_cls = F.cross_entropy(out.logits, labels)
        terms = {"cls": l_cls}
        total = self.weights[FUSED] * l_cls
        for m, f in out.features.items():
            terms[f"uni_{m}"] = F.cross_entropy(step.model.aux_heads[m](f), labels)
            total = total + self.weights[m] * terms[f"uni_{m}"]
        return {"total": total, **terms}

    def on_validation_end(self, run, epoch):
        if epoch % self.cfg.super_epoch:
            return None
        now = self.measure(run)
        ref, self.reference = self.reference, now
        w = blend_weights(ref["train"], now["train"], ref["val"], now["val"])
        if w is not None:
            self.weights = w
        return {"blending weights": {k: round(v, 4) for k, v in self.weights.items()}}

    def state_dict(self):
        return {"weights": dict(self.weights), "reference": self.reference}

    def load_state_dict(self, state):
        if state.get("weights"):
            self.weights = dict(state["weights"])
            self.reference = state["reference"]
