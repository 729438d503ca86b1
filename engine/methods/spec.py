"""What a method asks of the model, decided from the recipe alone (no torch): its fusion and
the modalities it encodes."""
from __future__ import annotations

from engine.recipe import METHOD_FUSIONS


def model_fusion(recipe) -> str:
    """A fusion method's own fusion; MLA's head shared by the modalities; else model.fusion."""
    name = recipe.method.name
    if name in METHOD_FUSIONS:
        return name
    if name == "mla":
        return "shared"
    if name == "unimodal":
        return "concat"  # one modality: a linear classifier on its features
    return recipe.model.fusion


def model_modalities(recipe, modalities: tuple[str, ...]) -> tuple[str, ...]:
    """The unimodal method keeps one modality; the others encode them all."""
    if recipe.method.name == "unimodal":
        return (recipe.method.modality,)
    return tuple(modalities)
