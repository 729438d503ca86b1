"""MMTM: "MMTM: Multimodal Transfer Module for CNN Fusion" (Vaezi Joze, Shaban, Iuzzolino,
Koishida, CVPR 2020), squeeze-and-excitation across modalities between encoder stages, and the
staged forward of the encoders that it needs (the Channel baseline; Greedy builds on it).

An MMTM block over the feature maps A_j (batch, C_j, ...) of the M modalities at one depth:
squeeze s_j = the spatial (and, for video, temporal) mean of A_j; joint Z = ReLU(W_s [s_1; ...;
s_M] + b_s) with floor(2 sum_j C_j / r) units; excitation E_j = W_j Z + b_j; output
g(E_j) * A_j, g the sigmoid (as every released implementation) or 2 sigmoid. With more than two
modalities the joint layer takes every squeeze and each modality has its own excitation.

`MMTMFusion` runs the encoders stage by stage (engine/models/encoders.py `stages`), aligned on
their last stage, and applies one block after each of the last `depth` stages that every encoder
has before its output layer (ResNet18: layer2, layer3 and layer4 with depth 3, the placement of
the Greedy code). The fallback for encoders without such stages (an MLP without hidden layers):
one block on the final features z_j, where the squeeze is the identity (a cross-modal gating
of the feature vectors). An MLP's hidden layers are stages of (batch, units) vectors, so on
vector data the blocks gate hidden units across modalities.

Greedy's re-balancing (Wu et al., ICML 2022) replaces one modality's gates in every block by
their running average over the training steps (`caring`); the averages are buffers, so they
checkpoint with the model. They are updated in training mode only (the released code also
updates them in evaluation passes, which would let validation inputs steer training).
"""
from __future__ import annotations

import torch
from torch import nn


def squeeze(x: torch.Tensor, batch: int) -> torch.Tensor:
    """(batch, C): the mean of x (batch * frames, C, ...) over frames and space."""
    return x.reshape(batch, -1, x.shape[1], x[0, 0].numel()).mean((1, 3))


def excite(x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """x scaled channel-wise by gate (batch, C), broadcast over frames and space."""
    b, c = gate.shape
    return (x.reshape(b, -1, c, x[0, 0].numel()) * gate[:, None, :, None]).reshape(x.shape)


class MMTM(nn.Module):
    def __init__(self, channels: dict[str, int], ratio: int = 4, gate: str = "sigmoid"):
        super().__init__()
        self.modalities = tuple(channels)
        total = sum(channels.values())
        self.joint_width = int(2 * total / ratio)
        self.squeeze = nn.Linear(total, self.joint_width)
        self.excitation = nn.ModuleDict({m: nn.Linear(self.joint_width, c) for m, c in channels.items()})
        self.scale = 2.0 if gate == "double_sigmoid" else 1.0

    def gates(self, squeezed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z = torch.relu(self.squeeze(torch.cat([squeezed[m] for m in self.modalities], 1)))
        return {m: self.scale * torch.sigmoid(self.excitation[m](z)) for m in self.modalities}

    def forward(self, maps: dict[str, torch.Tensor], batch: int) -> dict[str, torch.Tensor]:
        g = self.gates({m: squeeze(x, batch) for m, x in maps.items()})
        return {m: excite(maps[m], g[m]) for m in self.modalities}


class MMTMFusion(nn.Module):
    """The encoders' stages with MMTM blocks between them; `encode` replaces the encoders' own
    forward in MultimodalModel. `caring`: a modality whose gates are its running averages."""

    def __init__(self, encoders: nn.ModuleDict, sample: dict[str, torch.Tensor], depth: int,
                 ratio: int = 4, gate: str = "sigmoid"):
        super().__init__()
        self.modalities = tuple(encoders)
        n = {m: len(staged(encoders[m])) for m in self.modalities}
        self.depth = min(depth, min(n.values()) - 1)
        was = encoders.training
        encoders.eval()  # the probe of the channel counts leaves batch-norm statistics alone
        with torch.no_grad():
            _, shapes = self._run(encoders, sample, lambda r, h, b: None)
        encoders.train(was)
        # r: stages from the end; 1..depth are the last stages before the output layer, 0 the output
        self.points = tuple(range(1, self.depth + 1)) if self.depth > 0 else (0,)
        self.blocks = nn.ModuleList([MMTM({m: shapes[r][m] for m in self.modalities}, ratio, gate)
                                     for r in self.points])
        for i, block in enumerate(self.blocks):
            for m in self.modalities:
                self.register_buffer(f"avg_{i}_{m}", torch.zeros(block.excitation[m].out_features))
        self.register_buffer("avg_steps", torch.zeros((), dtype=torch.long))
        self.caring: str | None = None

    def _run(self, encoders, inputs, at_point) -> tuple[dict[str, torch.Tensor], dict]:
        """The stage-by-stage forward, `at_point(r, h, batch)` called after the stage r from the
        end of every encoder (r = 0: the output layer) and returning new maps or None. Returns
        the features (batch, d) and the channel counts seen at each r. Video (FramesPooled)
        runs its frames through the stages as one batch and is averaged over time at the end."""
        batch = len(next(iter(inputs.values())))
        stages, h = {}, {}
        for m in self.modalities:
            stages[m] = staged(encoders[m])
            h[m] = inputs[m].flatten(0, 1) if hasattr(encoders[m], "frame_encoder") else inputs[m]
        shapes: dict[int, dict[str, int]] = {}
        deepest = max(len(s) for s in stages.values())
        for r in range(deepest - 1, -1, -1):
            for m in self.modalities:
                i = len(stages[m]) - 1 - r
                if i >= 0:
                    h[m] = stages[m][i](h[m])
            shapes[r] = {m: h[m].shape[1] for m in self.modalities}
            new = at_point(r, h, batch)
            if new is not None:
                h = new
        return {m: h[m].reshape(batch, -1, h[m].shape[-1]).mean(1) for m in self.modalities}, shapes

    def encode(self, encoders: nn.ModuleDict, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self._run(encoders, inputs, self._fuse)[0]

    def _fuse(self, r: int, h: dict, batch: int) -> dict | None:
        if r not in self.points:
            return None
        i = self.points.index(r)
        block = self.blocks[i]
        g = block.gates({m: squeeze(h[m], batch) for m in self.modalities})
        if self.training:
            self._update_averages(i, g)
        if self.caring is not None:
            avg = getattr(self, f"avg_{i}_{self.caring}")
            g = {**g, self.caring: avg.expand_as(g[self.caring])}
        return {m: excite(h[m], g[m]) for m in self.modalities}

    @torch.no_grad()
    def _update_averages(self, i: int, gates: dict[str, torch.Tensor]) -> None:
        """a <- (mean over the batch of the gate + n a) / (n + 1), n the training steps so far."""
        n = float(self.avg_steps)
        for m, g in gates.items():
            avg = getattr(self, f"avg_{i}_{m}")
            avg.copy_((g.mean(0) + n * avg) / (n + 1))
        if i == len(self.blocks) - 1:
            self.avg_steps += 1


def staged(encoder: nn.Module) -> list[nn.Module]:
    """The encoder's stages; a TypeError for an encoder that has none (the recipe check in
    engine/contract/catalog/gradients.py names the kinds that do)."""
    if not hasattr(encoder, "stages"):
        raise TypeError(f"{type(encoder).__name__} does not expose its stages")
    return encoder.stages()
