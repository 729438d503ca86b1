"""Methods: LFM and the baselines, each a component of the one training loop (hooks in
engine/methods/base.py), chosen by the recipe's method.name."""
from __future__ import annotations

from engine.methods.base import Method, StepContext  # noqa: F401


def build_method(recipe) -> Method:
    from engine.methods.fusion import FusionBaseline
    from engine.methods.gblend import GBlend
    from engine.methods.lfm import LFM
    from engine.methods.mla import MLA
    from engine.methods.mmpareto import MMPareto
    from engine.methods.ogm_ge import OGMGE
    from engine.methods.pmr import PMR
    from engine.methods.unimodal import Unimodal

    table = {"lfm": LFM, "unimodal": Unimodal, "ogm_ge": OGMGE, "pmr": PMR, "gblend": GBlend,
             "mla": MLA, "mmpareto": MMPareto}
    name = recipe.method.name
    return table.get(name, FusionBaseline)(recipe)
