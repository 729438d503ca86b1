"""Built-in methods that act on the gradients or the optimiser: OGM-GE, MMPareto, Channel (MMTM),
Greedy, MSLR and AGM."""
from __future__ import annotations

from dataclasses import dataclass

from engine.method_info import MethodInfo, Reference
from engine.schema_fields import spec

AGM_CODE = "lihong2303/AGM_ICCV2023"


@dataclass(frozen=True)
class OgmGeConfig:
    alpha: float = spec(0.1, lo=0.0, lo_open=True, doc="modulation strength: 1 - tanh(alpha * ratio) for ratio > 1",
                        source="the released code's default (--alpha 0.1)")
    start: int = spec(0, lo=0, doc="first epoch (counted from 0) with modulation",
                      source="the released code (--modulation_starts 0)")
    end: int = spec(50, lo=0, doc="epoch (counted from 0) at which modulation stops",
                    source="the released code (--modulation_ends 50)")
    noise: bool = spec(True, doc="generalisation enhancement: Gaussian noise of the gradient's std",
                       source="the paper's GE and the released code (--modulation OGM_GE)")


OGM_GE = MethodInfo(
    "ogm_ge", "OGM-GE: the dominant modality's encoder gradient scaled down, plus Gaussian noise",
    "engine.methods.ogm_ge:OGMGE", config=OgmGeConfig,
    reference=Reference(
        paper="Peng, Wei, Deng, Wang, Hu: Balanced Multimodal Learning via On-the-fly Gradient Modulation, "
              "CVPR 2022",
        code="GeWu-Lab/OGM-GE_CVPR2022 `main.py`"))


@dataclass(frozen=True)
class MmparetoConfig:
    rescale: str = spec("paper", choices=("paper", "released"),
                        doc="paper: each encoder's combined gradient to the norm of the summed one; released: "
                            "the released code's per-tensor rescaling (only upwards) times 1.5",
                        source="the paper's algorithm; `released` reproduces the released code")


MMPARETO = MethodInfo(
    "mmpareto", "MMPareto: multimodal and unimodal gradients combined by min-norm weights",
    "engine.methods.mmpareto:MMPareto", config=MmparetoConfig,
    reference=Reference(
        paper="Wei, Hu: MMPareto: Boosting Multimodal Learning with Innocent Unimodal Assistance, ICML 2024",
        code="GeWu-Lab/MMPareto_ICML2024 `code/train.py`"))

STAGED_KINDS = ("mlp", "cnn", "resnet18")  # encoder kinds whose stages MMTM can fuse between


def _staged_encoders(name: str):
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


@dataclass(frozen=True)
class MmtmConfig:
    ratio: int = spec(4, lo=1, doc="r: the joint layer has 2 (C_1 + ... + C_M) / r units",
                      source="the released code (ratio 4)")
    stages: int = spec(3, lo=1, doc="MMTM after each of the last N stages the encoders have in common",
                       source="the Greedy authors' code (after ResNet18 layer2-4)")
    gate: str = spec("sigmoid", choices=("sigmoid", "double_sigmoid"),
                     doc="g of the excitation: sigmoid (the released code) or 2 sigmoid",
                     source="every released implementation")


MMTM = MethodInfo(
    "mmtm", "Channel (MMTM): squeeze-and-excitation across modalities between encoder stages",
    "engine.methods.mmtm:MMTMMethod", config=MmtmConfig, fusion="mean", checks=(_staged_encoders("mmtm"),),
    reference=Reference(
        paper="Vaezi Joze, Shaban, Iuzzolino, Koishida: MMTM: Multimodal Transfer Module for CNN Fusion, "
              "CVPR 2020 (the LFM paper's Channel)",
        code="haamoon/mmtm `mmtm.py`, `main_mmtm_ntu.py`"))


@dataclass(frozen=True)
class GreedyConfig:
    epsilon: float = spec(0.01, lo=0.0, doc="re-balance when |BDR_0 - BDR_1| exceeds this",
                          source="the released code (configs/training_guided.gin)")
    window: int = spec(5, lo=1, doc="re-balancing steps in a row", source="the released code")
    start: int = spec(2, lo=1, doc="first epoch (from 1) that may re-balance", source="the released code")


GREEDY = MethodInfo(
    "greedy", "Greedy: MMTM branches; re-balancing steps when one branch learns through the other",
    "engine.methods.greedy:Greedy", config=GreedyConfig, keys=("mmtm",), fusion="mean", modalities=2,
    checks=(_staged_encoders("greedy"),),
    reference=Reference(
        paper="Wu, Jastrzebski, Cho, Geras: Characterizing and overcoming the greedy nature of learning in "
              "multi-modal deep neural networks, ICML 2022",
        code="nyukat/greedy_multimodal_learning `src/balanced_mmtm.py`, `src/callbacks.py`, "
             "`configs/training_guided.gin`"))


def _mslr_rates(recipe) -> list[str]:
    rates, n = recipe.method.mslr.rates, len(recipe.data.modalities)
    if rates and len(rates) != n:
        return [f"method.mslr.rates: expected one learning-rate factor per modality ({n}, in the order of "
                f"data.modalities) or none, found {len(rates)}"]
    return []


@dataclass(frozen=True)
class MslrConfig:
    rates: tuple[float, ...] = spec((), lo=0.0, lo_open=True,
                                    doc="each modality's learning-rate factor, in data.modalities order; empty = 1",
                                    source="ours (the reference used audio 0.9, visual 1.1 on CREMA-D)")
    strategy: str = spec("dynamic", choices=("keep", "dynamic"),
                         doc="keep the factors, or scale them by validation accuracy over a window of epochs",
                         source="the reference implementation's form")
    window: int = spec(5, lo=1, doc="dynamic: epochs of the accuracy mean", source="the reference implementation")
    start: int = spec(0, lo=0, doc="first epoch with the modality rates, counted from 1 (0 and 1 are the same); "
                                   "outside start-end every modality trains at the scheduled rate",
                      source="the reference implementation (modulation_starts 0)")
    end: int = spec(20, lo=0, doc="last epoch with the modality rates, counted from 1 (defaults 0 and 20: "
                                  "epochs 1-20, the reference's window)",
                    source="the reference implementation (modulation_ends 20)")


MSLR = MethodInfo(
    "mslr", "MSLR: additive late fusion, a learning rate per modality (static or from validation)",
    "engine.methods.mslr:MSLR", config=MslrConfig, fusion="sum", checks=(_mslr_rates,),
    reference=Reference(
        paper="Yao, Mihalcea: Modality-specific Learning Rates for Effective Multimodal Additive Late-fusion, "
              "Findings of ACL 2022",
        code=f"no code of the authors; the AGM authors' baseline, {AGM_CODE} `run/CREMAD_main.py` (MSLR branch)"))


@dataclass(frozen=True)
class AgmConfig:
    alpha: float = spec(1.0, lo=0.0, lo_open=True, doc="modulation strength", source="the released code's default")
    start: int = spec(0, lo=0, doc="first epoch with modulation, epochs counted from 1 as the engine and "
                                   "the authors' code count them (0 and 1 are the same)",
                      source="the released code (modulation_starts 0)")
    end: int = spec(20, lo=0, doc="last epoch with modulation, counted from 1 (defaults 0 and 20: epochs 1-20)",
                    source="the released code (modulation_ends 20)")
    pad: str = spec("input", choices=("input", "feature"),
                    doc="a coalition mutes a modality by zeroing its input (the released code) or its features",
                    source="the released code")


AGM = MethodInfo(
    "agm", "AGM: Shapley mono-modal responses, each one's gradient scaled towards balance",
    "engine.methods.agm:AGM", config=AgmConfig,
    reference=Reference(
        paper="Li, Li, Hu, Lei, Li, Zhou: Boosting Multi-modal Model Performance with Adaptive Gradient "
              "Modulation, ICCV 2023",
        code=f"{AGM_CODE} `model/CREMAD_net.py`, `run/CREMAD_main.py`, `utils/config.py`"))
