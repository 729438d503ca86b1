"""Channel (MMTM): "MMTM: Multimodal Transfer Module for CNN Fusion" (Vaezi Joze, Shaban,
Iuzzolino, Koishida, CVPR 2020), the LFM paper's "Channel" baseline.

MMTM blocks (engine/models/mmtm.py) recalibrate each modality's channels by gates computed
from the pooled features of every modality, after each of the last `method.mmtm.stages` (3)
stages the encoders have in common: ResNet18 layer2-4 (the Greedy code's placement), the small
CNN's blocks, an MLP's hidden layers (vector data: the squeeze is the identity, a cross-modal
gating of hidden units); an encoder without such stages gets one block on its final features.
Joint width 2 sum_j C_j / r with r = `ratio` (4, the released code); gate sigmoid (every
released implementation) or 2 sigmoid (`gate`; the paper may write 2 sigmoid, unverified).
Each modality keeps its own linear classifier and the prediction is the mean of their logits
(the authors' NTU network); trained on the cross-entropy of that mean. MMTM's parameters belong
to no single modality's encoder except each excitation layer, which belongs to the modality it
gates. Encoders without stages (BERT, CLIP, ResNet50, bag of words) are refused by the recipe
check, as LFM's Table 1 leaves Channel blank on its image-text datasets.
"""
from __future__ import annotations

import torch

from engine.errors import UserError
from engine.methods.base import Method
from engine.models.mmtm import MMTMFusion


def attach_mmtm(model, data, cfg, name: str) -> MMTMFusion:
    """MMTM blocks between the model's encoder stages, sized on two training samples."""
    sample, _ = data.train.batch(torch.arange(min(2, len(data.train))))
    try:
        model.intermediate = MMTMFusion(model.encoders, sample, cfg.stages, cfg.ratio, cfg.gate)
    except TypeError as exc:
        raise UserError(f"method.name: {name!r} fuses between encoder stages: {exc}") from None
    return model.intermediate


class MMTMMethod(Method):

    def configure_model(self, model, data):
        attach_mmtm(model, data, self.recipe.method.mmtm, self.name)
