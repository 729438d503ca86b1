"""Built-in methods that add heads, objectives or phases: PMR, G-Blend, MLA, MSES and ReconBoost."""
from __future__ import annotations

from dataclasses import dataclass

from engine.contract.catalog.gradients import AGM_CODE
from engine.contract.method_info import MethodInfo, Reference
from engine.contract.schema_fields import WIDTH_MAX, spec

METHODS_TEST = "tests/test_methods.py::"
BASELINES_TEST = "tests/test_baselines.py::"
FIDELITY_TEST = "tests/test_method_fidelity.py::"
RESUME = (f"a run stopped and resumed ends with the uninterrupted run's test metrics: "
          f"{METHODS_TEST}test_resume_equals_uninterrupted_with_method_state")


@dataclass(frozen=True)
class PmrConfig:
    alpha: float = spec(1.0, lo=0.0, doc="weight of the weak modality's prototypical loss",
                        source="the released code")
    momentum: float = spec(0.2, lo=0.0, hi=1.0, doc="share of the previous prototypes kept each epoch",
                           source="the released code")


PMR = MethodInfo(
    "pmr", "PMR: class prototypes per modality; the weaker modality adds a prototype cross-entropy",
    "engine.methods.pmr:PMR", config=PmrConfig,
    reference=Reference(
        paper="Fan, Xu, Wang, Wang, Guo: PMR: Prototypical Modal Rebalance for Multimodal Learning, CVPR 2023",
        code="fanyunfeng-bit/Modal-Imbalance-PMR `main_Prototype_grad.py`",
        verified=(f"prototypes are class means of the encoder features, then (1 - momentum) new + momentum old: "
                  f"{METHODS_TEST}test_pmr_prototypes_are_class_means_then_momentum_mixes",
                  f"the weaker modality (lower prototype score) adds alpha times its prototype cross-entropy: "
                  f"{METHODS_TEST}test_pmr_adds_the_prototype_loss_of_the_weaker_modality", RESUME),
        deviations=("the paper's prototypical entropy regulariser of the first epochs is not included",
                    "prototypes from the whole training split; the released code averages the first tenth of a "
                    "loader's batches (the validation loader's for AVE and CG-MNIST)",
                    "more than two modalities: every modality but the strongest adds its loss, an extension")))


@dataclass(frozen=True)
class GBlendConfig:
    super_epoch: int = spec(5, lo=1, doc="epochs between two estimates of the blending weights",
                            source="ours (the paper re-estimates per super-epoch without fixing its length)")


GBLEND = MethodInfo(
    "gblend", "G-Blend: per-modality and fused heads weighted by generalisation / overfitting^2",
    "engine.methods.gblend:GBlend", config=GBlendConfig,
    reference=Reference(
        paper="Wang, Tran, Feiszli: What Makes Training Multi-modal Classification Networks Hard?, CVPR 2020",
        code="none of the authors (online G-Blend is described in the paper only)",
        verified=(f"w_k proportional to Delta G_k / (Delta O_k)^2, 0 where the held-out loss rose, summing to 1: "
                  f"{METHODS_TEST}test_gblend_weights_are_generalisation_over_squared_overfitting",
                  f"the weights come from the losses measured over the super-epoch and weight the loss: "
                  f"{METHODS_TEST}test_gblend_weights_follow_the_losses_it_measured", RESUME),
        deviations=("the super-epoch's length is ours (5 epochs): the paper does not fix it",)))


@dataclass(frozen=True)
class MlaConfig:
    entropy_fusion: bool = spec(True, doc="at evaluation, weight each modality's logits by its "
                                          "prediction's certainty (softmax of minus entropy)",
                                source="the paper's test-time uncertainty-based fusion")


MLA = MethodInfo(
    "mla", "MLA: each modality in turn through a shared head, a step each; certainty-weighted fusion at test",
    "engine.methods.mla:MLA", config=MlaConfig, fusion="shared",
    fusion_options=lambda r: {"entropy_fusion": r.method.mla.entropy_fusion},
    reference=Reference(
        paper="Zhang, Yoon, Bansal, Yao: Multimodal Representation Learning by Alternating Unimodal "
              "Adaptation, CVPR 2024",
        code="Cecile-hi/Multimodal-Learning-with-Alternating-Unimodal-Adaptation `main.py`",
        verified=(f"on every batch one optimiser step per modality, its encoder and the shared head, the other "
                  f"encoders not run (as main.py): {METHODS_TEST}test_mla_steps_each_modality_in_turn_on_every_batch",
                  f"at evaluation the per-sample weights softmax(-entropy); in training the mean: "
                  f"{METHODS_TEST}test_mla_entropy_fusion_weights_the_certain_modality", RESUME),
        deviations=("the paper's gradient modification of the shared head (an orthogonal projection against "
                    "forgetting) is not included",
                    "entropies per sample; the released code computes them over the whole batch (a bug)")))


@dataclass(frozen=True)
class MsesConfig:
    patience: int = spec(5, lo=1, doc="epochs without a better smoothed validation loss before a modality stops",
                         source="ours (the reference: 10 to 80 epochs, for budgets of hundreds)")
    smoothing: float = spec(0.4, lo=0.0, hi=1.0, doc="weight of the current loss: 0.6 L(t-1) + 0.4 L(t)",
                            source="the reference implementation")
    multitask: bool = spec(True, doc="train the per-modality heads too (the paper); false: the fused loss only",
                           source="the paper's abstract (multitask); false: the reference implementation")
    restore: bool = spec(True, doc="a stopped modality gets back its parameters of its best epoch",
                         source="ours (the reference rolls back the whole model)")


def _mses_heads(recipe) -> list[str]:
    if not recipe.method.mses.multitask and recipe.model.fusion != "sum":
        return [f"method.mses.multitask: false reads each modality's head of the sum fusion, which the fused "
                f"cross-entropy trains; set model.fusion = \"sum\" (found {recipe.model.fusion!r}) or "
                f"multitask = true"]
    return []


MSES = MethodInfo(
    "mses", "MSES: per-modality heads; a modality stops learning when its validation loss overfits",
    "engine.methods.mses:MSES", config=MsesConfig, checks=(_mses_heads,),
    reference=Reference(
        paper="Fujimori, Endo, Kawai, Mochizuki: Modality-Specific Learning Rate Control for Multimodal "
              "Classification, ACPR 2019, LNCS 12047",
        code=f"no code of the authors; the AGM authors' baseline, {AGM_CODE} `run/CREMAD_main.py` (MSES branch)",
        verified=(f"smoothing 0.6 L(t - 1) + 0.4 L(t), best epoch and stop on a synthetic sequence: "
                  f"{BASELINES_TEST}test_mses_smoothing_best_epoch_and_stop_on_a_synthetic_sequence",
                  f"a stopped modality gets its best parameters back and stays frozen: "
                  f"{BASELINES_TEST}test_mses_stops_a_modality_restores_its_best_parameters_and_freezes_it",
                  f"decided on the validation split: {BASELINES_TEST}test_mses_decides_on_the_validation_split",
                  f"multitask = false reads the sum fusion's heads, which add up to the fused logits (the "
                  f"reference's model): "
                  f"{FIDELITY_TEST}"
                  f"test_mses_without_multitask_reads_the_sum_fusion_heads_that_add_up_to_the_fused_logits",
                  f"... heads that the fused cross-entropy trains: "
                  f"{FIDELITY_TEST}test_mses_without_multitask_decides_from_heads_that_train",
                  f"... and another fusion is refused: "
                  f"{FIDELITY_TEST}test_mses_without_multitask_refuses_a_fusion_other_than_sum"),
        deviations=("validation losses on the validation split; the reference reads the test split",
                    "restore: the stopped modality's parameters only; the reference rolls back the whole model and "
                    "optimiser")))


@dataclass(frozen=True)
class ReconboostConfig:
    boost_epochs: int = spec(4, lo=1, doc="epochs boosting one modality per stage", source="the released code")
    rectify_epochs: int = spec(4, lo=0, doc="epochs of global rectification per stage", source="the released code")
    w1: float = spec(5.0, lo=0.0, doc="boosting loss (w2 p_others(y) - w1) log p(y) / C",
                     source="the released code (train.py)")
    w2: float = spec(1.0, lo=0.0, doc="weight of the others' probability of the true class in the boosting loss",
                     source="the released code (train.py)")
    ga_weight: float = spec(0.5, lo=0.0, doc="weight of the reconcilement term against the previous learner",
                            source="the released code")
    ga_grad: str = spec("current", choices=("current", "none"),
                        doc="current: the term trains the current learner; none: no gradient (the released code)",
                        source="ours: the paper's intent; `none` reproduces the released code")
    hidden: int = spec(256, lo=1, hi=WIDTH_MAX, doc="hidden width of the head shared by the modalities",
                       source="the released code")
    boost_rate: float = spec(1.0, lo=0.0, lo_open=True, doc="initial value of the learned ensemble weight beta",
                             source="the released code")


RECONBOOST = MethodInfo(
    "reconboost", "ReconBoost: one modality at a time boosted against the others, then all rectified",
    "engine.methods.reconboost:ReconBoost", config=ReconboostConfig, fusion="boost",
    fusion_options=lambda r: {"hidden": r.method.reconboost.hidden, "boost_rate": r.method.reconboost.boost_rate},
    reference=Reference(
        paper="Hua, Xu, Bao, Yang, Huang: ReconBoost: Boosting Can Achieve Modality Reconcilement, ICML 2024",
        code="huacong/ReconBoost `train.py`, `models/dynamic_net.py`",
        verified=(f"the boosting loss and its gradient by hand: "
                  f"{BASELINES_TEST}test_reconboost_boosting_loss_and_its_gradient",
                  f"stages cycle the modalities, boosting then rectifying: "
                  f"{BASELINES_TEST}test_reconboost_schedule_cycles_modalities_and_phases",
                  f"boosting trains one encoder and the head; the optimiser state is cleared between phases: "
                  f"{BASELINES_TEST}test_reconboost_boosting_trains_one_encoder_and_the_head",
                  f"rectification trains everything on the ensemble: "
                  f"{BASELINES_TEST}test_reconboost_rectification_trains_everything_on_the_ensemble",
                  f"the reconcilement term has a gradient only with ga_grad = current: "
                  f"{BASELINES_TEST}test_reconboost_reconcilement_term_acts_only_with_a_gradient",
                  f"with an empty ensemble p_-m(y) = 1 as the code (stage-0 loss (w2 - w1) / C mean log p(y)): "
                  f"{FIDELITY_TEST}test_reconboost_boosting_loss_with_an_empty_ensemble_by_hand",
                  f"... in a stage-0 training step: {FIDELITY_TEST}test_reconboost_stage_zero_loss_is_the_codes"),
        deviations=("ga_grad = \"current\": the reconcilement term trains the current learner; the code detaches "
                    "it (`none` reproduces the code)",
                    "the validation split picks the best epoch; the code picks the best stage on the test split")))
