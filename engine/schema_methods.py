"""The `[method]` section of a recipe: the method's name and one table of keys per method that
takes any (what a method is lives in engine/method_registry.py). Standard library only."""
from __future__ import annotations

from dataclasses import dataclass

from engine.method_registry import NAMES as METHODS
from engine.schema_fields import WIDTH_MAX, spec


@dataclass(frozen=True)
class OgmGeConfig:
    alpha: float = spec(0.1, lo=0.0, lo_open=True, doc="modulation strength: 1 - tanh(alpha * ratio) for ratio > 1")
    start: int = spec(0, lo=0, doc="first epoch (counted from 0) with modulation")
    end: int = spec(50, lo=0, doc="epoch (counted from 0) at which modulation stops")
    noise: bool = spec(True, doc="generalisation enhancement: Gaussian noise of the gradient's std")


@dataclass(frozen=True)
class PmrConfig:
    alpha: float = spec(1.0, lo=0.0, doc="weight of the weak modality's prototypical loss")
    momentum: float = spec(0.2, lo=0.0, hi=1.0, doc="share of the previous prototypes kept each epoch")


@dataclass(frozen=True)
class GBlendConfig:
    super_epoch: int = spec(5, lo=1, doc="epochs between two estimates of the blending weights")


@dataclass(frozen=True)
class MlaConfig:
    entropy_fusion: bool = spec(True, doc="at evaluation, weight each modality's logits by its "
                                          "prediction's certainty (softmax of minus entropy)")


@dataclass(frozen=True)
class MmparetoConfig:
    rescale: str = spec("paper", choices=("paper", "released"),
                        doc="paper: each encoder's combined gradient to the norm of the summed one; released: "
                            "the released code's per-tensor rescaling (only upwards) times 1.5")


@dataclass(frozen=True)
class MmtmConfig:
    ratio: int = spec(4, lo=1, doc="r: the joint layer has 2 (C_1 + ... + C_M) / r units")
    stages: int = spec(3, lo=1, doc="MMTM after each of the last N stages the encoders have in common")
    gate: str = spec("sigmoid", choices=("sigmoid", "double_sigmoid"),
                     doc="g of the excitation: sigmoid (the released code) or 2 sigmoid")


@dataclass(frozen=True)
class MlLstmConfig:
    layers: int = spec(2, lo=1, hi=16, doc="LSTM layers over the sequence of modality features")
    hidden: int = spec(0, lo=0, hi=WIDTH_MAX, doc="LSTM width; 0 = model.feature_dim")


@dataclass(frozen=True)
class EtmcConfig:
    annealing: int = spec(10, lo=1, doc="epochs over which the KL term's weight rises from 0 to 1")


@dataclass(frozen=True)
class MsesConfig:
    patience: int = spec(5, lo=1, doc="epochs without a better smoothed validation loss before a modality stops")
    smoothing: float = spec(0.4, lo=0.0, hi=1.0, doc="weight of the current loss: 0.6 L(t-1) + 0.4 L(t)")
    multitask: bool = spec(True, doc="train the per-modality heads too (the paper); false: the fused loss only")
    restore: bool = spec(True, doc="a stopped modality gets back its parameters of its best epoch")


@dataclass(frozen=True)
class GreedyConfig:
    epsilon: float = spec(0.01, lo=0.0, doc="re-balance when |BDR_0 - BDR_1| exceeds this")
    window: int = spec(5, lo=1, doc="re-balancing steps in a row")
    start: int = spec(2, lo=1, doc="first epoch (from 1) that may re-balance")


@dataclass(frozen=True)
class DomfnConfig:
    gamma: float = spec(0.8, lo=0.0, lo_open=True, doc="fuse a sample only where every penalty / tau < gamma")
    eta: float = spec(0.5, lo=0.0, doc="weight of the divergence penalty in the unimodal losses")
    tau: float = spec(0.5, lo=0.0, lo_open=True, doc="penalty temperature")
    hidden: int = spec(64, lo=1, hi=WIDTH_MAX, doc="width of the fused MLP")
    pretrain_epochs: int = spec(0, lo=0, doc="first epochs trained on the unimodal losses only")


@dataclass(frozen=True)
class MslrConfig:
    rates: tuple[float, ...] = spec((), lo=0.0, lo_open=True,
                                    doc="each modality's learning-rate factor, in data.modalities order; empty = 1")
    strategy: str = spec("dynamic", choices=("keep", "dynamic"),
                         doc="keep the factors, or scale them by validation accuracy over a window of epochs")
    window: int = spec(5, lo=1, doc="dynamic: epochs of the accuracy mean")
    start: int = spec(0, lo=0, doc="first epoch with the modality rates, counted from 1 (0 and 1 are the same); "
                                   "outside start-end every modality trains at the scheduled rate")
    end: int = spec(20, lo=0, doc="last epoch with the modality rates, counted from 1 (defaults 0 and 20: "
                                  "epochs 1-20, the reference's window)")


@dataclass(frozen=True)
class AgmConfig:
    alpha: float = spec(1.0, lo=0.0, lo_open=True, doc="modulation strength")
    start: int = spec(0, lo=0, doc="first epoch with modulation, epochs counted from 1 as the engine and "
                                   "the authors' code count them (0 and 1 are the same)")
    end: int = spec(20, lo=0, doc="last epoch with modulation, counted from 1 (defaults 0 and 20: epochs 1-20)")
    pad: str = spec("input", choices=("input", "feature"),
                    doc="a coalition mutes a modality by zeroing its input (the released code) or its features")


@dataclass(frozen=True)
class ReconboostConfig:
    boost_epochs: int = spec(4, lo=1, doc="epochs boosting one modality per stage")
    rectify_epochs: int = spec(4, lo=0, doc="epochs of global rectification per stage")
    w1: float = spec(5.0, lo=0.0, doc="boosting loss (w2 p_others(y) - w1) log p(y) / C")
    w2: float = spec(1.0, lo=0.0)
    ga_weight: float = spec(0.5, lo=0.0, doc="weight of the reconcilement term against the previous learner")
    ga_grad: str = spec("current", choices=("current", "none"),
                        doc="current: the term trains the current learner; none: no gradient (the released code)")
    hidden: int = spec(256, lo=1, hi=WIDTH_MAX, doc="hidden width of the head shared by the modalities")
    boost_rate: float = spec(1.0, lo=0.0, lo_open=True, doc="initial value of the learned ensemble weight beta")


@dataclass(frozen=True)
class MethodConfig:
    name: str = spec("lfm", choices=METHODS, doc="the method trained by the one training loop")
    modality: str = spec("", doc="unimodal: the modality to keep")
    ogm_ge: OgmGeConfig = spec(OgmGeConfig())
    pmr: PmrConfig = spec(PmrConfig())
    gblend: GBlendConfig = spec(GBlendConfig())
    mla: MlaConfig = spec(MlaConfig())
    mmpareto: MmparetoConfig = spec(MmparetoConfig())
    mmtm: MmtmConfig = spec(MmtmConfig())
    ml_lstm: MlLstmConfig = spec(MlLstmConfig())
    etmc: EtmcConfig = spec(EtmcConfig())
    mses: MsesConfig = spec(MsesConfig())
    greedy: GreedyConfig = spec(GreedyConfig())
    domfn: DomfnConfig = spec(DomfnConfig())
    mslr: MslrConfig = spec(MslrConfig())
    agm: AgmConfig = spec(AgmConfig())
    reconboost: ReconboostConfig = spec(ReconboostConfig())
