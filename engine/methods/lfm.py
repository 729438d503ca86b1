"""LFM: "Facilitating Multimodal Classification via Dynamically Learning Modality Gap" (Yang,
Wan, Jiang, Xu, NeurIPS 2024). L_Total = (1 - alpha) L_CLS + alpha L_MM, L_MM the symmetric
InfoNCE between the modalities' projected features, alpha from the recipe's alpha strategy
(engine/alpha/strategies.py: constant, stepwise, the heuristic Ours-H, polynomial, ...)."""
from __future__ import annotations

from engine.methods.losses import classification_loss, matching_loss, total_loss
from engine.methods.base import Method


class LFM(Method):
    gradient_sync = "ddp"  # one forward pass using every parameter: DDP averages during backward

    def loss(self, out, labels, step):
        cfg = self.recipe.loss
        l_cls = classification_loss(out.logits, labels)
        emb = {m: step.all_rows(e) for m, e in out.embeddings.items()}  # the global batch under DDP
        l_mm = matching_loss(emb, cfg.temperature, cfg.pair_reduction)
        return {"total": total_loss(l_cls, l_mm, step.alpha), "cls": l_cls, "mm": l_mm}
