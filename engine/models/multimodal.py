"""The multimodal classifier: one encoder per modality, a projection head per modality for the
matching loss, a fusion and one linear classifier. A method may set `intermediate`, a module
that runs the encoders itself with fusion between their stages (MMTM, engine/models/mmtm.py);
the fusion then acts on the features it returns."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.models.encoders import build_encoder
from engine.models.fusion import FUSIONS


@dataclass
class Output:
    logits: torch.Tensor                 # fused logits (batch, classes)
    features: dict[str, torch.Tensor]    # z^(j): encoder outputs (batch, d)
    embeddings: dict[str, torch.Tensor]  # what the matching loss compares (projected or z^(j))


class MultimodalModel(nn.Module):
    def __init__(self, modalities: tuple[str, ...], encoders: dict[str, nn.Module], feature_dim: int,
                 num_classes: int, fusion: str, projection_dim: int, **fusion_options):
        super().__init__()
        self.modalities = tuple(modalities)
        self.fusion_name = fusion
        self.encoders = nn.ModuleDict(encoders)
        self.projections = nn.ModuleDict(
            {m: nn.Linear(feature_dim, projection_dim) for m in modalities} if projection_dim else {})
        self.fusion = FUSIONS[fusion](self.modalities, feature_dim, num_classes, **fusion_options)
        self.register_module("intermediate", None)

    def encode(self, inputs: dict[str, torch.Tensor], modalities: tuple[str, ...] | None = None
               ) -> dict[str, torch.Tensor]:
        if self.intermediate is not None:  # the encoders are coupled: all of them run
            return self.intermediate.encode(self.encoders, inputs)
        return {m: self.encoders[m](inputs[m]) for m in (modalities or self.modalities)}

    def forward(self, inputs: dict[str, torch.Tensor] | None,
                features: dict[str, torch.Tensor] | None = None, *, through=None) -> Output:
        """`features` given: skip the encoders and fuse these z^(j) instead. `through`: a
        method's own pass, `through(model, inputs) -> Output` (one modality only, frozen
        learners, coalitions of modalities), run here so that it goes through the same wrappers
        (DistributedDataParallel, torch.compile) as the plain pass."""
        if through is not None:
            return through(self, inputs)
        feats = features if features is not None else self.encode(inputs)
        logits = self.fusion(feats)
        emb = {m: self.projections[m](f) for m, f in feats.items()} if len(self.projections) else feats
        return Output(logits, feats, emb)

    def unimodal_logits(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each modality's part of the fused classifier (`split_head`): for concat, the weight's
        columns of that modality's block plus bias / m; for sum, the modality's own head; see
        engine/models/fusion.py for the others."""
        return self.fusion.parts(features)


def build_model(recipe, data, fusion: str | None = None, modalities: tuple[str, ...] | None = None,
                **fusion_options) -> MultimodalModel:
    """The multimodal model of the recipe's [model] section over `modalities` (default: all the
    data's) with `fusion` (default: model.fusion); the method decides both (engine/setup.py)."""
    mc = recipe.model
    modalities = tuple(modalities or data.modalities)
    encoders = {m: build_encoder(m, mc.encoders[m], data.input_spec[m], mc.feature_dim)
                for m in modalities}
    return MultimodalModel(modalities, encoders, mc.feature_dim, data.num_classes, fusion or mc.fusion,
                           mc.projection_dim, **fusion_options)
