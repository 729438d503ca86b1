"""Where each modality looks (the LFM paper's Fig. 4): Grad-CAM (Selvaraju et al., IJCV 2020)
of the convolutional encoders (`cnn`, `resnet18`, `resnet50` on images, spectrograms or video
frames) with captum's `LayerGradCam` at the encoder's last `nn.Conv2d`, upsampled to the input
with `LayerAttribution.interpolate`.

The attribution is of the fused logit of each sample's true class, the other modalities' inputs
being the sample's own; ReLU applied (the positive evidence, as Grad-CAM defines it). Each
panel is the input beside its heat map over the input with the heat map's colour bar, the true
and the predicted class as its title; a video shows its middle frame."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from engine.contract.context import RunContext  # noqa: E402
from engine.contract.schema import CONV_KINDS  # noqa: E402

PANEL_SIDE = 160  # pixels of the longer side of a panel's image
DPI = 100
CMAP = "inferno"  # perceptually uniform, readable in grey and with every common colour-vision deficiency


def conv_layer(encoder: nn.Module) -> nn.Conv2d | None:
    """The encoder's last convolutional layer (in the order its modules are registered)."""
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


def targets(ctx: RunContext) -> tuple[dict[str, nn.Conv2d], str | None]:
    """The modalities Grad-CAM can show (modality -> its encoder's last convolution), and, where
    there is none, why."""
    model, encs = ctx.model, ctx.recipe.model.encoders
    found: dict[str, nn.Conv2d] = {}
    for m in model.modalities:
        kind, kind_of_input = encs[m].kind, ctx.data.input_spec[m].get("type")
        layer = conv_layer(model.encoders[m]) if kind in CONV_KINDS and kind_of_input in ("image", "video") else None
        if layer is not None:
            found[m] = layer
    if found:
        return found, None
    kinds = ", ".join(f"{m}: {encs[m].kind}" for m in model.modalities)
    return found, (f"Grad-CAM skipped: no convolutional encoder ({kinds}); it shows the encoders "
                   f"{', '.join(CONV_KINDS)} of image, spectrogram or video inputs")


def pick(labels: torch.Tensor, num_classes: int, per_class: int) -> torch.Tensor:
    """Positions of the first `per_class` samples of each class, class by class."""
    out = [torch.nonzero(labels == c).flatten()[:per_class] for c in range(num_classes)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def attributions(ctx: RunContext, modality: str, layer: nn.Conv2d, inputs: dict, labels: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of `modality` at its input's resolution, (batch, [frames,] H, W), and the
    fused predictions; the model is put back in the mode it was in."""
    from captum.attr import LayerAttribution, LayerGradCam

    model = ctx.model
    x = inputs[modality].float().detach().clone().requires_grad_(True)  # frozen encoders too
    others = {m: v for m, v in inputs.items() if m != modality}

    def fused_logits(xm: torch.Tensor) -> torch.Tensor:
        return model({**others, modality: xm}).logits

    was_training = model.training
    model.eval()
    try:
        cam = LayerGradCam(fused_logits, layer).attribute(x, target=labels, relu_attributions=True)
        with torch.no_grad():
            pred = fused_logits(x).argmax(1)
    finally:
        model.train(was_training)
    side = tuple(x.shape[-2:])
    cam = LayerAttribution.interpolate(cam.detach(), side, interpolate_mode="bilinear")[:, 0]
    if x.dim() == 5:  # video: (batch * frames, H, W) back to (batch, frames, H, W)
        cam = cam.reshape(x.shape[0], x.shape[1], *side)
    return cam.float().cpu(), pred.cpu()


def _to_rgb(x: np.ndarray) -> np.ndarray:
    """(C, H, W) input to (H, W, 3) in [0, 1]: RGB as is, otherwise the channels' mean as grey;
    scaled per sample to its own range."""
    img = x.transpose(1, 2, 0) if x.shape[0] == 3 else np.repeat(x.mean(0)[..., None], 3, axis=2)
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def panel_figure(x: torch.Tensor, cam: torch.Tensor, caption: str):
    """The input beside the heat map blended over it (each at least PANEL_SIDE pixels a side),
    the caption as title and a colour bar of the heat map (0 to the sample's largest
    attribution): a matplotlib Figure on the Agg canvas, no pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if x.dim() == 4:  # video: the middle frame
        mid = x.shape[0] // 2
        x, cam = x[mid], cam[mid]
    img = _to_rgb(x.float().numpy())
    c = cam.numpy()
    c = c / c.max() if c.max() > 0 else np.zeros_like(c)
    cmap = matplotlib.colormaps[CMAP]
    over = np.clip(0.5 * img + 0.5 * cmap(c)[..., :3], 0, 1)
    h, w = img.shape[:2]
    side = PANEL_SIDE / DPI / max(h, w)  # inches a pixel of the input
    fig = Figure(figsize=(2 * w * side + 1.3, h * side + 0.55), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    for ax, pic, name in ((left, img, "input"), (right, over, "Grad-CAM")):
        ax.imshow(pic, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(name, fontsize=8)
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=right, fraction=0.08, pad=0.03)
    bar.set_label("relative attribution", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(caption, fontsize=8)
    return fig


def panel(x: torch.Tensor, cam: torch.Tensor, caption: str) -> np.ndarray:
    """panel_figure drawn: (H, W, 3) uint8."""
    fig = panel_figure(x, cam, caption)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def file_stem(class_index: int, class_name: str, k: int) -> str:
    """`<class index>-<class name as letters, digits, . _ ->-<k>`: a file name for any class name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(class_name)).strip("._")[:40] or "class"
    return f"{class_index:03d}-{name}-{k}"


def grid(panels: list[np.ndarray], per_row: int) -> np.ndarray:
    """Panels (padded to one size) in rows of `per_row`: (H, W, 3) uint8."""
    h = max(p.shape[0] for p in panels)
    w = max(p.shape[1] for p in panels)
    rows = -(-len(panels) // per_row)
    out = np.full((rows * (h + 4), per_row * (w + 4), 3), 255, dtype=np.uint8)
    for i, p in enumerate(panels):
        r, c = divmod(i, per_row)
        out[r * (h + 4):r * (h + 4) + p.shape[0], c * (w + 4):c * (w + 4) + p.shape[1]] = p
    return out


def stack(sheets: list[np.ndarray]) -> np.ndarray:
    """Sheets one above the other (padded white to the widest): (H, W, 3) uint8."""
    w = max(s.shape[1] for s in sheets)
    return np.concatenate([np.pad(s, ((0, 4), (0, w - s.shape[1]), (0, 0)), constant_values=255)
                           for s in sheets])[:-4]
