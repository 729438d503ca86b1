"""MMPareto: "MMPareto: Boosting Multimodal Learning with Innocent Unimodal Assistance" (Wei, Hu,
ICML 2024).

Each modality has its own linear head besides the fused classifier. For the parameters of
modality j's encoder, the gradient g_m of the multimodal loss and g_u of modality j's unimodal
loss are combined with Pareto weights: when they conflict (negative cosine), gamma solves the
two-gradient min-norm problem min_gamma ||gamma g_u + (1 - gamma) g_m||^2 (MGDA) over the whole
encoder's gradient (paper and released code agree); otherwise gamma = 1/2. The heads get their
own losses' gradients.

The magnitude, where paper and released code differ (`method.mmpareto.rescale`):
- "paper" (default): the paper's algorithm, the encoder's combined direction
  gamma g_u + (1 - gamma) g_m rescaled to the norm of g_u + g_m, to keep the SGD noise that
  helps generalisation.
- "released": the released code, tensor by tensor: h = 2 (gamma g_u + (1 - gamma) g_m), scaled
  up to the norm of that tensor's g_u + g_m only where that is larger, then times a fixed 1.5
  (which the paper does not have); under conflict the per-tensor directions then differ from
  the paper's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.base import Method, attach_aux_heads


def min_norm_weight(g1: torch.Tensor, g2: torch.Tensor) -> float:
    """gamma in [0, 1] minimising ||gamma g1 + (1 - gamma) g2||^2."""
    diff = g1 - g2
    denom = float(diff @ diff)
    if denom <= 0:
        return 0.5
    return min(1.0, max(0.0, float((g2 - g1) @ g2) / denom))


def pareto_combine(g_uni: torch.Tensor, g_mm: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The combined gradient of one encoder and the weight gamma of the unimodal gradient."""
    n_u, n_m = g_uni.norm(), g_mm.norm()
    if n_u == 0 or n_m == 0:
        return g_uni + g_mm, 0.5
    conflict = float(g_uni @ g_mm) < 0
    gamma = min_norm_weight(g_uni, g_mm) if conflict else 0.5
    d = gamma * g_uni + (1 - gamma) * g_mm
    nd = d.norm()
    return (d * ((g_uni + g_mm).norm() / nd) if nd > 0 else d), gamma


RELEASED_SCALE = 1.5  # the released code's fixed factor on the combined gradient


def released_combine(g_uni: list[torch.Tensor], g_mm: list[torch.Tensor], gamma: float) -> list[torch.Tensor]:
    """The released code's rescaling, per parameter tensor, of one encoder's gradients."""
    out = []
    for gu, gm in zip(g_uni, g_mm):
        h = 2 * (gamma * gu + (1 - gamma) * gm)
        n_h = h.norm()
        ratio = float((gu + gm).norm() / n_h) if n_h > 0 else 1.0
        out.append(RELEASED_SCALE * h * max(ratio, 1.0))
    return out


class MMPareto(Method):
    gradient_sync = "method"  # backward averages g_m and g_u over the processes before combining them

    def __init__(self, recipe):
        super().__init__(recipe)
        self.rescale = recipe.method.mmpareto.rescale
        self.last_gamma: dict[str, float] = {}

    def configure_model(self, model, data):
        attach_aux_heads(model, data.num_classes, self.recipe.model.feature_dim)

    def loss(self, out, labels, step):
        l_cls = F.cross_entropy(out.logits, labels)
        terms = {f"uni_{m}": F.cross_entropy(step.model.aux_heads[m](f), labels) for m, f in out.features.items()}
        uni = sum(terms.values())
        return {"total": l_cls + uni, "cls": l_cls, **terms}

    def backward(self, losses, step):
        model = step.model
        params = [p for p in model.parameters() if p.requires_grad]
        uni = sum(v for k, v in losses.items() if k.startswith("uni_"))
        g_mm = torch.autograd.grad(losses["cls"], params, retain_graph=True, allow_unused=True)
        g_uni = torch.autograd.grad(uni, params, allow_unused=True)
        step.average_gradients([g for g in (*g_mm, *g_uni) if g is not None])  # the global batch's, under DDP
        grads = {id(p): (gm, gu) for p, gm, gu in zip(params, g_mm, g_uni)}

        def flat(gs, ps):
            return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, ps)])

        encoder_ids = set()
        for m in model.modalities:
            ps = [p for p in model.encoders[m].parameters() if p.requires_grad]
            if not ps:
                continue
            encoder_ids.update(id(p) for p in ps)
            gm = flat([grads[id(p)][0] for p in ps], ps)
            gu = flat([grads[id(p)][1] for p in ps], ps)
            combined, self.last_gamma[m] = pareto_combine(gu, gm)
            if self.rescale == "released":
                sizes = [p.numel() for p in ps]
                parts = released_combine(list(gu.split(sizes)), list(gm.split(sizes)), self.last_gamma[m])
                combined = torch.cat([t.reshape(-1) for t in parts])
            offset = 0
            for p in ps:
                n = p.numel()
                p.grad = combined[offset:offset + n].view_as(p).clone()
                offset += n
        for p in params:
            if id(p) in encoder_ids:
                continue
            gm, gu = grads[id(p)]
            if gm is None and gu is None:
                continue
            p.grad = (gm if gm is not None else 0) + (gu if gu is not None else 0)
