"""DOMFN: "DOMFN: A Divergence-Orientated Multi-Modal Fusion Network for Resume Assessment"
(Yang, Zhang, Gao, Gao, Zhu, ACM MM 2022), in a batched, per-sample form.

Each modality predicts q_j = sigmoid(head_j(z_j)), the fused MLP q_f (engine/models/
divergence.py); the functional penalty pen_j = max_k (q_jk - qbar_k)^2 measures how far modality
j's prediction is from the modalities' mean. Per sample i, with CE the cross-entropy applied to
the sigmoid outputs (the authors' code: a softmax over sigmoids), L_i = sum_j (CE_ji^2 / 2 -
eta pen_ji) + sum_j CE_ji + CE_fi. A sample whose every pen_ji / tau is below gamma trains on
L_i and is predicted by q_f; any other trains each modality on its own CE_ji only (the fused MLP
gets nothing from it) and is predicted by its most confident modality. The loss is the batch
mean, per-sample throughout (the authors train with batches of one, so their squared batch
mean is a per-sample square). gamma 0.8, eta 0.5, tau 0.5 and the fused MLP's 64 units are
the authors' MOSI configuration; with two modalities and these gamma and tau no sample is ever
routed away (pen <= 1/4), so DOMFN reduces to joint training with L and the fused prediction:
retune them for the routing to act. `pretrain_epochs` first epochs train on sum_j CE_j alone
(the authors pre-train 30 epochs; 0 here). Their separate optimisers and learning rates per
modality are not reproduced (the recipe's optimiser trains everything), and their checkpoint
selection, which never saves, is replaced by the engine's choice on the validation split.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.base import Method


def domfn_loss(q: torch.Tensor, q_f: torch.Tensor, labels: torch.Tensor, agree: torch.Tensor,
               pen: torch.Tensor, eta: float) -> dict[str, torch.Tensor]:
    """The batch mean of a_i L_i + (1 - a_i) sum_j CE_ji; q (modalities, batch, C), pen (modalities, batch)."""
    ce = torch.stack([F.cross_entropy(qj, labels, reduction="none") for qj in q])  # (modalities, batch)
    ce_f = F.cross_entropy(q_f, labels, reduction="none")
    joint = (0.5 * ce ** 2 - eta * pen).sum(0) + ce.sum(0) + ce_f
    a = agree.to(ce.dtype)
    total = (a * joint + (1 - a) * ce.sum(0)).mean()
    return {"total": total, "fused": ce_f.mean(), "unimodal": ce.sum(0).mean(), "penalty": pen.mean(),
            "routed": 1 - a.mean()}


class DOMFN(Method):

    def loss(self, out, labels, step):
        cfg = self.recipe.method.domfn
        fusion = step.model.fusion
        q, q_f = fusion.probabilities(out.features)
        pen = fusion.penalties(q)
        l_cls = F.cross_entropy(out.logits, labels)
        if step.epoch <= cfg.pretrain_epochs:
            uni = sum(F.cross_entropy(qj, labels) for qj in q)
            return {"total": uni, "cls": l_cls, "unimodal": uni}
        terms = domfn_loss(q, q_f, labels, fusion.agreement(pen.detach()), pen, cfg.eta)
        return {**terms, "cls": l_cls}
