"""What a method is, in one place: its name, the `[method]` keys it takes, the fusion it sets
or accepts (and the fusion's options from the recipe), the modality counts it supports, the
checks it needs, its label in tables and the class that implements it.

Standard library only: the recipe validation and the UI read this table without torch. The
implementation (`impl`, "module:Class") is imported only when a run builds the method
(`engine.methods.build_method`). A name that is not here is an error everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

# The fusions of the multimodal model (engine/models/fusion.py) that `model.fusion` may name,
# and how many modalities each fuses (None: any number).
FUSIONS: dict[str, int | None] = {"concat": None, "sum": None, "weight": None, "film": 2, "gated": 2}


@dataclass(frozen=True)
class MethodInfo:
    name: str
    summary: str                      # one line: what it does (README, `lfm validate`)
    impl: str                         # "engine.methods.module:Class"
    keys: tuple[str, ...] = ()        # [method] keys it takes besides `name`
    fusion: str | None = None         # the fusion it sets; None: the recipe's model.fusion
    uses_alpha: bool = False          # weights a matching loss by the alpha strategy
    modalities: int | None = None     # the number of modalities it needs; None: two or more
    checks: tuple[Callable, ...] = field(default=())  # recipe -> list of problems
    fusion_options: Callable | None = None  # recipe -> keyword options of the fusion it sets

    def label(self, config: dict[str, str]) -> str:
        """The row label of comparison tables, from a run's flattened recipe."""
        if self.name == "unimodal":
            return f"{config.get('method.modality', '?')} alone"
        return self.name

    def model_fusion(self, recipe) -> str:
        return self.fusion or recipe.model.fusion

    def model_fusion_options(self, recipe) -> dict:
        return self.fusion_options(recipe) if self.fusion_options is not None else {}

    def model_modalities(self, recipe, modalities: tuple[str, ...]) -> tuple[str, ...]:
        """The modalities its model encodes: the unimodal method keeps one."""
        if self.name == "unimodal":
            return (recipe.method.modality,)
        return tuple(modalities)

    def problems(self, recipe) -> list[str]:
        out: list[str] = []
        n = len(recipe.data.modalities)
        if self.modalities is not None and n != self.modalities:
            out.append(f"method.name: {self.name!r} fuses exactly {_count(self.modalities)} modalities, "
                       f"found {n} in data.modalities")
        fusion = recipe.model.fusion
        if self.fusion is None and FUSIONS.get(fusion) is not None and n != FUSIONS[fusion]:
            out.append(f"model.fusion: {fusion!r} fuses exactly {_count(FUSIONS[fusion])} modalities, "
                       f"found {n} in data.modalities")
        for check in self.checks:
            out += check(recipe)
        return out


def _count(n: int) -> str:
    return {2: "two", 3: "three"}.get(n, str(n))


def _unimodal_modality(recipe) -> list[str]:
    m = recipe.method.modality
    if m not in recipe.data.modalities:
        return [f"method.modality: the unimodal method needs the modality to keep, one of "
                f"{', '.join(map(repr, recipe.data.modalities))}; found {m!r}"]
    return []


# Encoder kinds whose stages MMTM can fuse between (engine/models/encoders.py `stages`): MLPs
# (on vectors or on a frozen text model's embedding), the small CNN and ResNet18, per frame for video.
STAGED_KINDS = ("mlp", "cnn", "resnet18")


def _staged_encoders(name: str) -> Callable:
    def check(recipe) -> list[str]:
        out = []
        for m in recipe.data.modalities:
            enc = recipe.model.encoders.get(m)
            if enc is not None and not (enc.kind in STAGED_KINDS or (enc.kind == "minilm" and enc.freeze)):
                out.append(f"model.encoders.{m}.kind: {name!r} fuses between encoder stages (MMTM), which "
                           f"{enc.kind!r} does not expose; use one of {', '.join(STAGED_KINDS)} "
                           f"(or a frozen minilm: an MLP on its embedding)")
        return out
    return check


def _mslr_rates(recipe) -> list[str]:
    rates, n = recipe.method.mslr.rates, len(recipe.data.modalities)
    if rates and len(rates) != n:
        return [f"method.mslr.rates: expected one learning-rate factor per modality ({n}, in the order of "
                f"data.modalities) or none, found {len(rates)}"]
    return []


def _mses_heads(recipe) -> list[str]:
    if not recipe.method.mses.multitask and recipe.model.fusion != "sum":
        return [f"method.mses.multitask: false reads each modality's head of the sum fusion, which the fused "
                f"cross-entropy trains; set model.fusion = \"sum\" (found {recipe.model.fusion!r}) or "
                f"multitask = true"]
    return []


def _fusion(name: str, summary: str) -> MethodInfo:
    return MethodInfo(name, summary, "engine.methods.fusion:FusionBaseline", fusion=name,
                      modalities=FUSIONS[name])


_ALL = (
    MethodInfo("unimodal", "one modality alone (method.modality), an encoder and a linear classifier",
               "engine.methods.unimodal:Unimodal", keys=("modality",), fusion="concat",
               checks=(_unimodal_modality,)),
    _fusion("concat", "fusion by concatenation; cross-entropy only"),
    _fusion("sum", "fusion by adding per-modality heads; cross-entropy only"),
    _fusion("weight", "per-modality heads mixed by learned modality weights"),
    _fusion("film", "FiLM (the paper's Affine): the first modality scales and shifts the second's features"),
    _fusion("gated", "gated fusion: sigmoid of the first modality gates the second"),
    MethodInfo("ogm_ge", "OGM-GE: the dominant modality's encoder gradient scaled down, plus Gaussian noise",
               "engine.methods.ogm_ge:OGMGE", keys=("ogm_ge",)),
    MethodInfo("pmr", "PMR: class prototypes per modality; the weaker modality adds a prototype cross-entropy",
               "engine.methods.pmr:PMR", keys=("pmr",)),
    MethodInfo("gblend", "G-Blend: per-modality and fused heads weighted by generalisation / overfitting^2",
               "engine.methods.gblend:GBlend", keys=("gblend",)),
    MethodInfo("mla", "MLA: each modality in turn through a shared head, a step each; certainty-weighted "
               "fusion at test", "engine.methods.mla:MLA", keys=("mla",), fusion="shared",
               fusion_options=lambda r: {"entropy_fusion": r.method.mla.entropy_fusion}),
    MethodInfo("mmpareto", "MMPareto: multimodal and unimodal gradients combined by min-norm weights",
               "engine.methods.mmpareto:MMPareto", keys=("mmpareto",)),
    MethodInfo("mmtm", "Channel (MMTM): squeeze-and-excitation across modalities between encoder stages",
               "engine.methods.mmtm:MMTMMethod", keys=("mmtm",), fusion="mean", checks=(_staged_encoders("mmtm"),)),
    MethodInfo("ml_lstm", "ML-LSTM: the modalities' features as a sequence through a multi-layer LSTM",
               "engine.methods.ml_lstm:MLLSTM", keys=("ml_lstm",), fusion="lstm",
               fusion_options=lambda r: {"layers": r.method.ml_lstm.layers, "hidden": r.method.ml_lstm.hidden}),
    MethodInfo("etmc", "ETMC: Dirichlet evidence per modality and of the concatenation, combined by Dempster-Shafer",
               "engine.methods.etmc:ETMC", keys=("etmc",), fusion="evidential"),
    MethodInfo("mses", "MSES: per-modality heads; a modality stops learning when its validation loss overfits",
               "engine.methods.mses:MSES", keys=("mses",), checks=(_mses_heads,)),
    MethodInfo("greedy", "Greedy: MMTM branches; re-balancing steps when one branch learns through the other",
               "engine.methods.greedy:Greedy", keys=("mmtm", "greedy"), fusion="mean", modalities=2,
               checks=(_staged_encoders("greedy"),)),
    MethodInfo("domfn", "DOMFN: fused prediction only where the modalities' predictions agree; divergence penalty",
               "engine.methods.domfn:DOMFN", keys=("domfn",), fusion="divergence",
               fusion_options=lambda r: {"hidden": r.method.domfn.hidden, "gamma": r.method.domfn.gamma,
                                         "tau": r.method.domfn.tau}),
    MethodInfo("mslr", "MSLR: additive late fusion, a learning rate per modality (static or from validation)",
               "engine.methods.mslr:MSLR", keys=("mslr",), fusion="sum", checks=(_mslr_rates,)),
    MethodInfo("agm", "AGM: Shapley mono-modal responses, each one's gradient scaled towards balance",
               "engine.methods.agm:AGM", keys=("agm",)),
    MethodInfo("reconboost", "ReconBoost: one modality at a time boosted against the others, then all rectified",
               "engine.methods.reconboost:ReconBoost", keys=("reconboost",), fusion="boost",
               fusion_options=lambda r: {"hidden": r.method.reconboost.hidden,
                                         "boost_rate": r.method.reconboost.boost_rate}),
    MethodInfo("lfm", "LFM: (1 - alpha) L_CLS + alpha L_MM, alpha from [alpha]",
               "engine.methods.lfm:LFM", uses_alpha=True),
)

METHODS: dict[str, MethodInfo] = {m.name: m for m in _ALL}
NAMES: tuple[str, ...] = tuple(METHODS)  # table order: baselines first, LFM last


def get(name: str) -> MethodInfo:
    """The method called `name`; a KeyError naming the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(NAMES)}") from None


def takers(key: str) -> list[str]:
    """The methods that take `[method] key`."""
    return [m.name for m in _ALL if key in m.keys]
