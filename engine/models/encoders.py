"""Encoders: each maps one modality's input batch to a (batch, d) feature tensor.

The MLP, the small CNN and ResNet18 also expose their `stages()`: modules applied in turn, the
last one giving the (batch, d) features, so that intermediate fusion (MMTM, engine/models/mmtm.py)
can act between them. A CNN stage gives a (batch, channels, H, W) map; an MLP stage a (batch,
units) vector, which is an MMTM's squeeze as it is (the fallback for vector inputs)."""
from __future__ import annotations

import torch
from torch import nn

from engine.contract.errors import UserError


class MLP(nn.Module):
    """Feature vectors (or frozen embeddings) through hidden layers to d features."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            prev = h
        layers.append(nn.Linear(prev, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def stages(self) -> list[nn.Module]:
        """Each hidden layer (Linear, ReLU, Dropout) a stage, then the output layer."""
        out: list[list[nn.Module]] = []
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                out.append([])
            out[-1].append(layer)
        return [nn.Sequential(*block) for block in out]


class SmallCNN(nn.Module):
    """Conv-BN-ReLU stages, each halving the resolution, then global average pooling."""

    def __init__(self, in_channels: int, channels: tuple[int, ...], out_dim: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for c in channels:
            layers += [nn.Conv2d(prev, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            prev = c
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.out = nn.Linear(prev, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))

    def stages(self) -> list[nn.Module]:
        """Each Conv-BN-ReLU-MaxPool block a stage, then pooling and the output layer."""
        layers = list(self.features)
        blocks = [nn.Sequential(*layers[i:i + 4]) for i in range(0, len(layers) - 2, 4)]
        return [*blocks, nn.Sequential(*layers[-2:], self.drop, self.out)]


def _narrow(net: nn.Module, width: int) -> None:
    """Replace a torchvision ResNet18's stem and four stages by the same layout with `width`,
    2 * width, 4 * width and 8 * width channels (BasicBlocks, two a stage)."""
    from torchvision.models.resnet import BasicBlock

    net.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    prev = width
    for i in range(4):
        planes, stride = width * 2 ** i, 1 if i == 0 else 2
        down = None
        if stride != 1 or prev != planes:
            down = nn.Sequential(nn.Conv2d(prev, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        setattr(net, f"layer{i + 1}", nn.Sequential(BasicBlock(prev, planes, stride, down), BasicBlock(planes, planes)))
        prev = planes
    net.fc = nn.Linear(prev, net.fc.out_features)


class ResNet18Small(nn.Module):
    """torchvision's ResNet18 from scratch, adapted to small inputs (3x3 stem, stride 1, no
    max-pool) when the image side is below 64 pixels; the classifier becomes a d-wide layer.
    `width` below 64 narrows every stage in proportion (a ResNet18 scaled down for the CPU)."""

    def __init__(self, in_channels: int, side: int, out_dim: int, width: int = 64):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        if width != 64:
            _narrow(net, width)
        if side < 64:
            net.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        net.fc = nn.Linear(net.fc.in_features, out_dim)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def stages(self) -> list[nn.Module]:
        """The stem, layer1 to layer4, then pooling and the output layer."""
        n = self.net
        return [nn.Sequential(n.conv1, n.bn1, n.relu, n.maxpool), n.layer1, n.layer2, n.layer3, n.layer4,
                nn.Sequential(n.avgpool, nn.Flatten(), n.fc)]


class BagOfWords(nn.Module):
    """Small text encoder from scratch: mean of word embeddings (padding ignored), then an MLP."""

    def __init__(self, vocab: int, embed_dim: int, hidden: tuple[int, ...], out_dim: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_dim, padding_idx=0)
        self.mlp = MLP(embed_dim, hidden, out_dim, dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).float().unsqueeze(-1)
        pooled = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.mlp(pooled)


class HFText(nn.Module):
    """A Hugging Face text model, fine-tuned: mean-pooled hidden states, then a d-wide layer.
    Input: (batch, 2, tokens) holding ids and attention mask."""

    def __init__(self, path: str, out_dim: int):
        super().__init__()
        from transformers import AutoModel

        self.model = AutoModel.from_pretrained(path, local_files_only=True)
        self.out = nn.Linear(self.model.config.hidden_size, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask = x[:, 0], x[:, 1]
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        return self.out((hidden * m).sum(1) / m.sum(1).clamp_min(1e-9))


class FramesPooled(nn.Module):
    """Video as a few frames: every frame through the same 2D network, its outputs averaged over
    time. As in the OGM-GE lineage, where the ResNet18 feature maps of the frames are average-
    pooled over time and space before one linear layer: the final layer is affine, so averaging
    its outputs over frames equals applying it to the time-pooled features."""

    def __init__(self, frame_encoder: nn.Module):
        super().__init__()
        self.frame_encoder = frame_encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        z = self.frame_encoder(x.flatten(0, 1))
        return z.view(b, t, -1).mean(1)

    def stages(self) -> list[nn.Module]:
        """The frame encoder's stages, on (batch * frames, ...) tensors (see engine/models/mmtm.py)."""
        return self.frame_encoder.stages()


def _image_encoder(modality: str, cfg, shape: tuple, out_dim: int) -> nn.Module | None:
    key = f"model.encoders.{modality}.path"
    if cfg.kind == "cnn":
        return SmallCNN(shape[0], cfg.channels, out_dim, cfg.dropout)
    if cfg.kind == "resnet18":
        return ResNet18Small(shape[0], shape[-1], out_dim, cfg.width)
    if cfg.kind in ("resnet50", "clip_image"):
        if shape[0] != 3:
            raise UserError(f"model.encoders.{modality}.kind: {cfg.kind} takes RGB input; {modality} has "
                            f"{shape[0]} channel(s): use 'resnet18' or 'cnn'")
        from engine.models.pretrained import CLIPImage, ResNet50

        if cfg.kind == "resnet50":
            return ResNet50(cfg.path, key, out_dim, cfg.freeze)
        return CLIPImage(cfg.path, key, out_dim, cfg.freeze)
    return None


def build_encoder(modality: str, cfg, spec: dict, out_dim: int) -> nn.Module:
    """The encoder the recipe's `model.encoders.<modality>` table asks for, sized by the data."""
    kind, t = cfg.kind, spec["type"]
    if t == "video" or (t == "image" and kind in ("resnet50", "clip_image")):
        shape = tuple(spec["shape"])
        net = _image_encoder(modality, cfg, shape[1:] if t == "video" else shape, out_dim)
        if net is not None:
            return FramesPooled(net) if t == "video" else net
    if t == "vector" and kind == "mlp":
        return MLP(spec["dim"], cfg.hidden, out_dim, cfg.dropout)
    if t == "embedding":  # frozen pretrained text: a trainable MLP on the fixed embedding
        return MLP(spec["dim"], cfg.hidden, out_dim, cfg.dropout)
    if t == "image" and kind == "cnn":
        return SmallCNN(spec["shape"][0], cfg.channels, out_dim, cfg.dropout)
    if t == "image" and kind == "resnet18":
        return ResNet18Small(spec["shape"][0], spec["shape"][-1], out_dim, cfg.width)
    if t == "tokens" and kind == "text_bow":
        return BagOfWords(spec["vocab"], cfg.embed_dim, cfg.hidden, out_dim, cfg.dropout)
    if t == "hf_tokens" and spec.get("kind", "minilm") == "minilm":
        return HFText(spec["path"], out_dim)
    if t == "hf_tokens":
        from engine.models.pretrained import HFTextEncoder

        return HFTextEncoder(spec["path"], spec["kind"], out_dim, cfg.freeze)
    raise UserError(f"model.encoders.{modality}.kind: {kind!r} does not take {t} inputs")
