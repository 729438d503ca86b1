"""Built-in methods that differ by their fusion or their objective alone: each modality alone,
the fusion baselines of the LFM paper's Table 1, ML-LSTM, ETMC, DOMFN, and LFM itself."""
from __future__ import annotations

from dataclasses import dataclass

from engine.method_info import FUSIONS, MethodInfo, Reference
from engine.schema_fields import WIDTH_MAX, spec

UNIMODAL = MethodInfo(
    "unimodal", "one modality alone (method.modality), an encoder and a linear classifier",
    "engine.methods.unimodal:Unimodal", keys=("modality",), fusion="concat", single_modality=True,
    label_template="{method.modality} alone",
    reference=Reference(paper="the LFM paper's \"best single modality\" reference row",
                        code="no reference code: cross-entropy of one encoder and a linear classifier"))


def _fusion(name: str, summary: str, reference: Reference) -> MethodInfo:
    return MethodInfo(name, summary, "engine.methods.fusion:FusionBaseline", fusion=name,
                      modalities=FUSIONS[name], reference=reference)


_TABLE1 = "the LFM paper's Table 1 baseline"
FUSION_BASELINES = (
    _fusion("concat", "fusion by concatenation; cross-entropy only",
            Reference(paper=f"{_TABLE1} CONCAT", code="no reference code: the definition is one linear layer")),
    _fusion("sum", "fusion by adding per-modality heads; cross-entropy only",
            Reference(paper=f"{_TABLE1} Sum", code="GeWu-Lab/OGM-GE_CVPR2022 models/fusion_modules.py SumFusion")),
    _fusion("weight", "per-modality heads mixed by learned modality weights",
            Reference(paper=f"{_TABLE1} Weight", code="no reference code: softmax of one learned score per modality")),
    _fusion("film", "FiLM (the paper's Affine): the first modality scales and shifts the second's features",
            Reference(paper="Perez, Strub, de Vries, Dumoulin, Courville: FiLM: Visual Reasoning with a General "
                            "Conditioning Layer, AAAI 2018 (the LFM paper's Affine)",
                      code="GeWu-Lab/OGM-GE_CVPR2022 models/fusion_modules.py FiLM")),
    _fusion("gated", "gated fusion: sigmoid of the first modality gates the second",
            Reference(paper="Kiela, Grave, Joulin, Mikolov: Efficient Large-Scale Multi-Modal Classification, "
                            "AAAI 2018 (the LFM paper's Gated)",
                      code="GeWu-Lab/OGM-GE_CVPR2022 models/fusion_modules.py GatedFusion")),
)


@dataclass(frozen=True)
class MlLstmConfig:
    layers: int = spec(2, lo=1, hi=16, doc="LSTM layers over the sequence of modality features",
                       source="our definition (no code or architecture published)")
    hidden: int = spec(0, lo=0, hi=WIDTH_MAX, doc="LSTM width; 0 = model.feature_dim",
                       source="our definition")


ML_LSTM = MethodInfo(
    "ml_lstm", "ML-LSTM: the modalities' features as a sequence through a multi-layer LSTM",
    "engine.methods.ml_lstm:MLLSTM", config=MlLstmConfig, fusion="lstm",
    fusion_options=lambda r: {"layers": r.method.ml_lstm.layers, "hidden": r.method.ml_lstm.hidden},
    reference=Reference(
        paper="Nie, Yan, Song, Wang: Multi-modal feature fusion based on multi-layers LSTM for video emotion "
              "recognition, Multimedia Tools and Applications 80(11), 2021",
        code="none found; only the abstract was available, so the architecture is a definition of ours",
        deviations=("the whole architecture is ours: the modalities' features as a length-M sequence through "
                    "an L-layer LSTM; its numbers are not those of a verified ML-LSTM",)))


@dataclass(frozen=True)
class EtmcConfig:
    annealing: int = spec(10, lo=1, doc="epochs over which the KL term's weight rises from 0 to 1",
                          source="the released code (annealing_epoch 10)")


ETMC = MethodInfo(
    "etmc", "ETMC: Dirichlet evidence per modality and of the concatenation, combined by Dempster-Shafer",
    "engine.methods.etmc:ETMC", config=EtmcConfig, fusion="evidential",
    reference=Reference(
        paper="Han, Zhang, Fu, Zhou: Trusted Multi-View Classification with Dynamic Evidential Fusion, "
              "TPAMI 2022",
        code="hanmenghan/TMC `ETMC TPAMI/models/TMC.py`, `ETMC TPAMI/train_ETMC_nyud2.py`"))


@dataclass(frozen=True)
class DomfnConfig:
    gamma: float = spec(0.8, lo=0.0, lo_open=True, doc="fuse a sample only where every penalty / tau < gamma",
                        source="the released code's MOSI configuration")
    eta: float = spec(0.5, lo=0.0, doc="weight of the divergence penalty in the unimodal losses",
                      source="the released code's MOSI configuration")
    tau: float = spec(0.5, lo=0.0, lo_open=True, doc="penalty temperature",
                      source="the released code's MOSI configuration")
    hidden: int = spec(64, lo=1, hi=WIDTH_MAX, doc="width of the fused MLP",
                       source="the released code's MOSI configuration")
    pretrain_epochs: int = spec(0, lo=0, doc="first epochs trained on the unimodal losses only",
                                source="ours (the released code pre-trains 30 epochs)")


DOMFN = MethodInfo(
    "domfn", "DOMFN: fused prediction only where the modalities' predictions agree; divergence penalty",
    "engine.methods.domfn:DOMFN", config=DomfnConfig, fusion="divergence",
    fusion_options=lambda r: {"hidden": r.method.domfn.hidden, "gamma": r.method.domfn.gamma,
                              "tau": r.method.domfn.tau},
    reference=Reference(
        paper="Yang, Zhang, Gao, Gao, Zhu: DOMFN: A Divergence-Orientated Multi-Modal Fusion Network for "
              "Resume Assessment, ACM MM 2022",
        code="njustkmg/MM22_DOMFN `models/encoder.py`, `engines/mosi_trainer.py`, `config/mosi_config.py`"))

LFM = MethodInfo(
    "lfm", "LFM: (1 - alpha) L_CLS + alpha L_MM, alpha from [alpha]",
    "engine.methods.lfm:LFM", uses_alpha=True,
    reference=Reference(
        paper="Yang, Wan, Jiang, Xu: Facilitating Multimodal Classification via Dynamically Learning Modality "
              "Gap, NeurIPS 2024",
        code="the authors' released code (alpha's hypergradient: the `official` estimator)"))
