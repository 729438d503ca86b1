"""MLA: "Multimodal Representation Learning by Alternating Unimodal Adaptation" (Zhang, Yoon,
Bansal, Yao, CVPR 2024).

Training alternates between the modalities: step i trains modality i mod m alone, its encoder
and a classification head shared by all modalities, on that modality's cross-entropy; the
other encoders are not run and get no gradient. At evaluation the shared head's per-modality
logits are fused, weighted per sample by each prediction's certainty (softmax over the
modalities of minus the entropy; `method.mla.entropy_fusion`), as the paper's test-time
uncertainty-based fusion; without it they are added. The paper's gradient modification of the
shared head (an orthogonal projection against forgetting) is not included.
"""
from __future__ import annotations

import torch.nn.functional as F

from engine.methods.base import Method
from engine.models.multimodal import Output


class MLA(Method):

    def active(self, model, ctx) -> str:
        return model.modalities[ctx.global_step % len(model.modalities)]

    def forward(self, model, inputs, ctx):
        m = self.active(model, ctx)
        feats = model.encode(inputs, (m,))
        return Output(model.fusion.head(feats[m]), feats, feats)

    def loss_terms(self, out, labels, ctx):
        (m,) = out.features
        l_uni = F.cross_entropy(out.logits, labels)
        return {"total": l_uni, "cls": l_uni, f"uni_{m}": l_uni}
