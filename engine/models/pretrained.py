"""Encoders with pretrained weights from local files only: ResNet50 (a torchvision state dict
file or a Hugging Face folder), BERT and CLIP (Hugging Face folders). Nothing is downloaded;
absent weights are a `UserError` naming the recipe key to set."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from engine.contract.errors import UserError
from engine.contract.weights import WHAT, _missing, hf_folder


def _freeze(module: nn.Module, freeze: bool) -> None:
    if freeze:
        for p in module.parameters():
            p.requires_grad_(False)


class ResNet50(nn.Module):
    """Pretrained ResNet50 trunk (2048 pooled features) and a d-wide layer."""

    def __init__(self, path: str, key: str, out_dim: int, freeze: bool):
        super().__init__()
        if not path:
            raise _missing(key, "resnet50", "and it is empty")
        p = Path(path).expanduser()
        if p.is_dir():
            from transformers import AutoModel

            hf_folder(path, key, "resnet50")
            self.hf = AutoModel.from_pretrained(str(p), local_files_only=True)
            self.trunk, width = None, self.hf.config.hidden_sizes[-1]
            _freeze(self.hf, freeze)
        elif p.is_file():
            from torchvision.models import resnet50

            net = resnet50(weights=None)
            try:
                state = torch.load(p, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any unpickling problem is the file's
                raise UserError(f"{key}: {p} is not a torchvision state dict ({type(exc).__name__}: {exc})") from None
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            missing, unexpected = net.load_state_dict(state, strict=False)
            if [k for k in missing if not k.startswith("fc.")] or unexpected:
                raise UserError(f"{key}: {p} does not hold ResNet50 weights (missing {len(missing)} keys, "
                                f"unexpected {len(unexpected)}); expected {WHAT['resnet50']}")
            width = net.fc.in_features
            net.fc = nn.Identity()
            self.trunk, self.hf = net, None
            _freeze(net, freeze)
        else:
            raise _missing(key, "resnet50", f"and {p} does not exist")
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.trunk is not None:
            return self.out(self.trunk(x))
        return self.out(self.hf(pixel_values=x).pooler_output.flatten(1))


def load_clip(path: str):
    """A whole CLIP model from a local folder; the caller keeps one tower and its projection
    (the towers' own configs need not repeat the model's projection width)."""
    from transformers import CLIPModel

    return CLIPModel.from_pretrained(path, local_files_only=True)


class HFTextEncoder(nn.Module):
    """BERT ([CLS] state), MiniLM (mean of token states) or CLIP's text tower (its projected
    embedding), then a d-wide layer. Input: (batch, 2, tokens) holding ids and attention mask."""

    def __init__(self, path: str, kind: str, out_dim: int, freeze: bool):
        super().__init__()
        self.kind = kind
        if kind == "clip_text":
            clip = load_clip(path)
            self.model, self.projection = clip.text_model, clip.text_projection
            width = clip.config.projection_dim
            _freeze(self.projection, freeze)
        else:
            from transformers import AutoModel

            self.model = AutoModel.from_pretrained(path, local_files_only=True)
            width = self.model.config.hidden_size
        _freeze(self.model, freeze)
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask = x[:, 0], x[:, 1]
        res = self.model(input_ids=ids, attention_mask=mask)
        if self.kind == "clip_text":
            return self.out(self.projection(res.pooler_output))
        hidden = res.last_hidden_state
        if self.kind == "bert":
            return self.out(hidden[:, 0])
        m = mask.unsqueeze(-1).float()
        return self.out((hidden * m).sum(1) / m.sum(1).clamp_min(1e-9))


class CLIPImage(nn.Module):
    """CLIP's vision tower (its projected image embedding) and a d-wide layer."""

    def __init__(self, path: str, key: str, out_dim: int, freeze: bool):
        super().__init__()
        clip = load_clip(str(hf_folder(path, key, "clip_image")))
        self.model, self.projection = clip.vision_model, clip.visual_projection
        self.size = clip.config.vision_config.image_size
        _freeze(self.model, freeze)
        _freeze(self.projection, freeze)
        self.out = nn.Linear(clip.config.projection_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.out(self.projection(self.model(pixel_values=x).pooler_output))
