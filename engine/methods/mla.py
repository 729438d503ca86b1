"""MLA: "Multimodal Representation Learning by Alternating Unimodal Adaptation" (Zhang, Yoon,
Bansal, Yao, CVPR 2024).

Training alternates between the modalities through a classification head shared by all of
them: on every batch, each modality in turn (data.modalities order) takes its own optimiser step
on its cross-entropy, its encoder and the shared head learning, the other encoders not run
(`substeps`: one step per modality, as the released code does; whether the paper's algorithm
draws one batch for all the modalities could not be checked, so the code is reproduced). At evaluation the shared head's per-modality logits are fused
per sample as the paper's test-time uncertainty-based fusion, sum_j w_j logits_j with w =
softmax over the modalities of minus each prediction's entropy (`method.mla.entropy_fusion`);
the released code computes its entropies over the whole batch instead of per sample, a bug not
reproduced. Without it, the logits are averaged (the released code's equal weights). The
paper's gradient modification of the shared head (an orthogonal projection against forgetting
the other modalities) is not included.
"""
from __future__ import annotations

import torch.nn.functional as F

from engine.methods.base import Method
from engine.models.multimodal import Output


class MLA(Method):

    def substeps(self, run) -> int:
        return len(run.model.modalities)

    def forward(self, net, inputs, step):
        m = step.model.modalities[step.substep]

        def one_modality(model, inputs):
            feats = model.encode(inputs, (m,))
            return Output(model.fusion.head(feats[m]), feats, feats)

        return net(inputs, through=one_modality)

    def loss(self, out, labels, step):
        (m,) = out.features
        l_uni = F.cross_entropy(out.logits, labels)
        return {"total": l_uni, "cls": l_uni, f"uni_{m}": l_uni}
