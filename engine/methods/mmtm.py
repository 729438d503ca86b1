"""Channel (MMTM): "MMTM: Multimodal Transfer Module for CNN Fusion" (Vaezi Joze, Shaban,
Iuzzolino, Koishida, CVPR 2020), the LFM paper's "Channel" baseline.

MMTM blocks (engine/models/mmtm.py) recalibrate each modality's channels by gates computed
from the pooled features of every modality, after each of the last `method.mmtm.stages` (3)
stages the encoders have in common: ResNet18 layer2-4 (the Greedy code's placement), the small
CNN's blocks, an MLP's hidden layers (vector data: the squeeze is the identity, a cross-modal
gating of hidden units); an encoder without such stages gets one block on its final features.
Joint width 2 sum_j C_j / r with r = `ratio` (4, the released code); gate sigmoid (every
released implementation) or 2 sigmoid (`gate`; the paper may write 2 sigmoid, unverified).
Each modality keeps its own linear classifier (branch j's logits z_j) and the prediction is the
mean of their logits (the authors' NTU network). MMTM's parameters belong to no single
modality's encoder except each excitation layer, which belongs to the modality it gates.
Encoders without stages (BERT, CLIP, ResNet50, bag of words) are refused by the recipe check, as
LFM's Table 1 leaves Channel blank on its image-text datasets.

Training, as the authors' code (main_mmtm_ntu.py, `step` and `train_mmtm_track_acc`): each branch
on its own cross-entropy. Their code, per batch, takes for j = visual, then skeleton a forward
pass and an Adam step of optimiser j, which holds branch j's network and every MMTM block, on
CE(z_j, y); the gradients that CE(z_j) sends into the other branch are cleared before that
branch's own step. Here the loss is sum_j CE(z_j, y) in one step: dL/dz_j = dCE(z_j)/dz_j =
(softmax(z_j) - y) / B exactly, so every classifier head gets its own CE's gradient (the
cross-entropy of the mean would give it (softmax(mean_k z_k) - y) / (M B)). Two differences
remain, both from one step instead of M: (1) an encoder also gets the gradient the other
branches' CEs send into it through the MMTM gates (the gates of branch k read every modality's
features), which the code discards (on mfeat, 256 samples, its norm is 0.1 to 5 % of the
encoder's own CE gradient, at initialisation and after 3 epochs); (2) the MMTM parameters take
one step on sum_j dCE(z_j), where the code takes M steps, one per CE, each through its own Adam
state and each after the previous step's update. "cls" reports the cross-entropy of the mean prediction (not optimised);
`uni_<modality>` each branch's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.contract.errors import UserError
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


def branch_losses(parts: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each branch's cross-entropy CE(z_j, y), from its logits z_j."""
    return {m: F.cross_entropy(z, labels) for m, z in parts.items()}


class MMTMMethod(Method):

    def configure_model(self, model, data):
        attach_mmtm(model, data, self.recipe.method.mmtm, self.name)

    def loss(self, out, labels, step):
        own = branch_losses(step.model.unimodal_logits(out.features), labels)
        return {"total": sum(own.values()), "cls": F.cross_entropy(out.logits, labels),
                **{f"uni_{m}": l for m, l in own.items()}}
