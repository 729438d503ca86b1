"""The multimodal classifier: one encoder per modality, a projection head per modality for the
matching loss, a fusion and one linear classifier."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.models.encoders import build_encoder


@dataclass
class Output:
    logits: torch.Tensor                 # fused logits (batch, classes)
    features: dict[str, torch.Tensor]    # z^(j): encoder outputs (batch, d)
    embeddings: dict[str, torch.Tensor]  # what the matching loss compares (projected or z^(j))


class MultimodalModel(nn.Module):
    def __init__(self, modalities: tuple[str, ...], encoders: dict[str, nn.Module], feature_dim: int,
                 num_classes: int, fusion: str, projection_dim: int):
        super().__init__()
        self.modalities = tuple(modalities)
        self.fusion = fusion
        self.encoders = nn.ModuleDict(encoders)
        self.projections = nn.ModuleDict(
            {m: nn.Linear(feature_dim, projection_dim) for m in modalities} if projection_dim else {})
        if fusion == "concat":
            self.head = nn.Linear(feature_dim * len(modalities), num_classes)
        else:  # sum: each modality its own head, logits added (as in OGM-GE)
            self.heads = nn.ModuleDict({m: nn.Linear(feature_dim, num_classes) for m in modalities})

    def forward(self, inputs: dict[str, torch.Tensor] | None,
                features: dict[str, torch.Tensor] | None = None) -> Output:
        """`features` given: skip the encoders and fuse these z^(j) instead."""
        feats = features if features is not None else {m: self.encoders[m](inputs[m]) for m in self.modalities}
        if self.fusion == "concat":
            logits = self.head(torch.cat([feats[m] for m in self.modalities], dim=1))
        else:
            logits = sum(self.heads[m](feats[m]) for m in self.modalities)
        emb = {m: self.projections[m](f) for m, f in feats.items()} if len(self.projections) else feats
        return Output(logits, feats, emb)

    def unimodal_logits(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each modality's part of the fused classifier (`split_head`): for concat, the weight's
        columns of that modality's block plus bias / m; for sum, the modality's own head."""
        out = {}
        if self.fusion == "concat":
            d = features[self.modalities[0]].shape[1]
            W, b = self.head.weight, self.head.bias
            for j, m in enumerate(self.modalities):
                out[m] = features[m] @ W[:, j * d:(j + 1) * d].T + b / len(self.modalities)
        else:
            for m in self.modalities:
                out[m] = self.heads[m](features[m])
        return out


def build_model(recipe, data) -> MultimodalModel:
    mc = recipe.model
    encoders = {m: build_encoder(m, mc.encoders[m], data.input_spec[m], mc.feature_dim)
                for m in data.modalities}
    return MultimodalModel(data.modalities, encoders, mc.feature_dim, data.num_classes,
                           mc.fusion, mc.projection_dim)
