"""Built-in methods that differ by their fusion or their objective alone: each modality alone,
the fusion baselines of the LFM paper's Table 1, ML-LSTM, ETMC, DOMFN, and LFM itself."""
from __future__ import annotations

from dataclasses import dataclass

from engine.contract.method_info import FUSIONS, MethodInfo, Reference
from engine.contract.schema_fields import WIDTH_MAX, spec

# the tests that pin a method's behaviour, named in its Reference.verified entries
METHODS_TEST = "tests/test_methods.py::"
BASELINES_TEST = "tests/test_baselines.py::"
LOSSES_TEST = "tests/test_losses_alpha_metrics.py::"
HYPERGRAD_TEST = "tests/test_hypergrad.py::"

UNIMODAL = MethodInfo(
    "unimodal", "one modality alone (method.modality), an encoder and a linear classifier",
    "engine.methods.unimodal:Unimodal", keys=("modality",), fusion="concat", single_modality=True,
    label_template="{method.modality} alone",
    reference=Reference(
        paper="the LFM paper's \"best single modality\" reference row",
        code="no reference code: cross-entropy of one encoder and a linear classifier",
        verified=(f"one encoder and a linear classifier on method.modality, the other modalities' inputs unused: "
                  f"{METHODS_TEST}test_unimodal_trains_one_modality_and_ignores_the_others",
                  f"a missing or unknown method.modality is a recipe error: "
                  f"{METHODS_TEST}test_method_errors_are_clear")))


_TRAINS = (f"cross-entropy of the fused prediction only (no matching loss), each modality's part of the logits, "
           f"and it learns mfeat (over 80 % where chance is 10 %): {METHODS_TEST}test_fusion_shapes_parts_and_training")
_ADDITIVE = ("the fused logits are the sum of the modalities' parts (concat, sum, weight): "
             f"{METHODS_TEST}test_fusion_shapes_parts_and_training")
_FORMULAS = f"{METHODS_TEST}test_film_and_gated_formulas"
_TWO = f"exactly two modalities, else a recipe error: {METHODS_TEST}test_method_errors_are_clear"


def _fusion(name: str, summary: str, reference: Reference) -> MethodInfo:
    return MethodInfo(name, summary, "engine.methods.fusion:FusionBaseline", fusion=name,
                      modalities=FUSIONS[name], reference=reference)


_TABLE1 = "the LFM paper's Table 1 baseline"
FUSION_BASELINES = (
    _fusion("concat", "fusion by concatenation; cross-entropy only",
            Reference(paper=f"{_TABLE1} CONCAT", code="no reference code: the definition is one linear layer",
                      verified=(_TRAINS, _ADDITIVE, "alpha is 0 at every step (LFM's loss without its matching term): "
                                f"{METHODS_TEST}test_lfm_is_the_default_and_concat_reports_alpha_zero"))),
    _fusion("sum", "fusion by adding per-modality heads; cross-entropy only",
            Reference(paper=f"{_TABLE1} Sum", code="GeWu-Lab/OGM-GE_CVPR2022 `models/fusion_modules.py` SumFusion",
                      verified=(_TRAINS, _ADDITIVE))),
    _fusion("weight", "per-modality heads mixed by learned modality weights",
            Reference(paper=f"{_TABLE1} Weight", code="no reference code: softmax of one learned score per modality",
                      verified=(_TRAINS, _ADDITIVE, "the modality weights sum to 1 and move from equal in training: "
                                f"{METHODS_TEST}test_fusion_shapes_parts_and_training"))),
    _fusion("film", "FiLM (the paper's Affine): the first modality scales and shifts the second's features",
            Reference(paper="Perez, Strub, de Vries, Dumoulin, Courville: FiLM: Visual Reasoning with a General "
                            "Conditioning Layer, AAAI 2018 (the LFM paper's Affine)",
                      code="GeWu-Lab/OGM-GE_CVPR2022 `models/fusion_modules.py` FiLM",
                      verified=(f"out(gamma * x_2 + beta), (gamma, beta) a linear map of x_1, as the code's FiLM with "
                                f"x_film: {_FORMULAS}", _TRAINS, _TWO))),
    _fusion("gated", "gated fusion: sigmoid of the first modality gates the second",
            Reference(paper="Kiela, Grave, Joulin, Mikolov: Efficient Large-Scale Multi-Modal Classification, "
                            "AAAI 2018 (the LFM paper's Gated)",
                      code="GeWu-Lab/OGM-GE_CVPR2022 `models/fusion_modules.py` GatedFusion",
                      verified=(f"out(sigmoid(W_g x_1) * W_v x_2), as the code's GatedFusion with x_gate: {_FORMULAS}",
                                _TRAINS, _TWO))),
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
        verified=(f"an L-layer LSTM over the length-M sequence of modality features, its one-step cell by hand, the "
                  f"order of data.modalities mattering: "
                  f"{BASELINES_TEST}test_ml_lstm_is_an_lstm_over_the_modality_sequence",),
        deviations=("the whole architecture is ours: the modalities' features as a length-M sequence through "
                    "an L-layer LSTM; its numbers are not those of a verified ML-LSTM",
                    "no utterance context: the paper's LSTM runs over a video's utterances, which single-sample "
                    "datasets do not have")))


@dataclass(frozen=True)
class EtmcConfig:
    annealing: int = spec(10, lo=1, doc="epochs over which the KL term's weight rises from 0 to 1",
                          source="the released code (annealing_epoch 10)")


ETMC = MethodInfo(
    "etmc", "ETMC: Dirichlet evidence per modality and of the concatenation, combined by Dempster-Shafer",
    "engine.methods.etmc:ETMC", config=EtmcConfig, fusion="evidential",
    reference=Reference(
        paper="Han, Zhang, Fu, Zhou: Trusted Multi-View Classification with Dynamic Evidential Fusion, "
              "TPAMI 45(2), 2023",
        code="hanmenghan/TMC `ETMC TPAMI/models/TMC.py`, `ETMC TPAMI/train_ETMC_nyud2.py`",
        verified=(f"opinions b + u = 1, Dempster-Shafer combination commutative, neutral to a vacuous opinion and by "
                  f"hand: {BASELINES_TEST}test_etmc_opinions_and_their_dempster_shafer_combination",
                  f"the adjusted cross-entropy, KL(Dir || Dir(1)) against torch's, the annealing min(1, (t - 1) / 10): "
                  f"{BASELINES_TEST}test_etmc_loss_terms_kl_and_annealing",
                  f"the prediction is the fused opinion's expected probability; the loss sums the M + 2 opinions' "
                  f"terms: {BASELINES_TEST}test_etmc_method_predicts_the_fused_expected_probability"),
        deviations=("the authors' script picks its learning-rate schedule, early stopping and model on the test "
                    "split; here the validation split picks the checkpoint and the recipe's optimiser and schedule "
                    "run",)))


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
        code="njustkmg/MM22_DOMFN `models/encoder.py`, `engines/mosi_trainer.py`, `config/mosi_config.py`",
        verified=(f"the penalty max_k (q_jk - qbar_k)^2 by hand and its bound 1/4 with two modalities (so no sample is "
                  f"routed away at the defaults): {BASELINES_TEST}test_domfn_penalty_and_the_two_modality_bound",
                  f"diverging samples predicted by their most confident modality, the per-sample loss by hand, the "
                  f"fused MLP learning from agreeing samples only: "
                  f"{BASELINES_TEST}test_domfn_routes_diverging_samples_to_the_most_confident_modality"),
        deviations=("batched and per sample; the authors train with batches of one",
                    "no pre-training by default (pretrain_epochs 0; the authors pre-train 30 epochs)",
                    "one optimiser for every parameter; the authors use one optimiser and learning rate per modality",
                    "the engine's validation split picks the checkpoint; the authors' checkpoint selection never "
                    "saves")))

LFM = MethodInfo(
    "lfm", "LFM: (1 - alpha) L_CLS + alpha L_MM, alpha from [alpha]",
    "engine.methods.lfm:LFM", uses_alpha=True,
    reference=Reference(
        paper="Yang, Wan, Jiang, Xu: Facilitating Multimodal Classification via Dynamically Learning Modality "
              "Gap, NeurIPS 2024",
        code="the authors' released code (its repository was not found when the references were checked); "
             "alpha.hypergradient = \"official\" reproduces its hypergradient",
        verified=(f"L_MM, the symmetric InfoNCE, by hand: {LOSSES_TEST}test_matching_loss_equals_the_papers_formula",
                  f"three or more modalities: the mean or sum over pairs: "
                  f"{LOSSES_TEST}test_matching_loss_over_three_modalities_is_the_mean_or_sum_of_pairs",
                  f"(1 - alpha) L_CLS + alpha L_MM by hand: {LOSSES_TEST}test_classification_and_total_loss",
                  f"the heuristic Ours-H's first values: {LOSSES_TEST}test_heuristic_first_values",
                  f"the paper's cubic alpha, clipped: {LOSSES_TEST}test_polynomial_is_the_papers_cubic_clipped",
                  f"`official`: the released code's mean of one tensor of H g_cls, against the full Hessian: "
                  f"{HYPERGRAD_TEST}test_official_is_the_mean_of_the_first_tensor_of_H_times_grad_cls",
                  f"`cg` run to convergence equals finite differences of the bi-level objective: "
                  f"{HYPERGRAD_TEST}test_cg_to_convergence_equals_finite_differences"),
        deviations=("the learned alpha's default hypergradient is `cg` (the implicit-function derivative of the "
                    "paper's eq. 2 and 3, Lanczos-CG); the released code's heuristic is `official`",
                    "the learned alpha's default step is `snr`: up to 0.1 per update, sized by the evidence (the "
                    "mean of 4 estimates over its standard error, pooled over updates; alpha.optimizer, "
                    "alpha.horizon); the released code's plain step alpha - lr dF/dalpha is `sgd`")))
