"""Built-in methods that act on the gradients or the optimiser: OGM-GE, MMPareto, Channel (MMTM),
Greedy, MSLR and AGM."""
from __future__ import annotations

from dataclasses import dataclass

from engine.contract.method_info import MethodInfo, Reference
from engine.contract.schema_fields import spec

AGM_CODE = "lihong2303/AGM_ICCV2023"
METHODS_TEST = "tests/test_methods.py::"
BASELINES_TEST = "tests/test_baselines.py::"
FIDELITY_TEST = "tests/test_method_fidelity.py::"
RESUME = (f"a run stopped and resumed ends with the uninterrupted run's test metrics: "
          f"{BASELINES_TEST}test_resume_equals_uninterrupted_with_baseline_state")


@dataclass(frozen=True)
class OgmGeConfig:
    alpha: float = spec(0.1, lo=0.0, lo_open=True, doc="modulation strength: 1 - tanh(alpha * ratio) for ratio > 1",
                        source="the released code's README (--alpha 0.1, its value for VGGSound; 0.8 for "
                               "CREMA-D); main.py requires it")
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
        code="GeWu-Lab/OGM-GE_CVPR2022 `main.py`",
        verified=(f"k = 1 - tanh(alpha rho) for rho > 1, else 1 (eq. 10 and main.py): "
                  f"{METHODS_TEST}test_ogm_ge_coefficient_formula",
                  f"only the dominant modality's encoder gradient is scaled, by k of its batch scores: "
                  f"{METHODS_TEST}test_ogm_ge_scales_the_dominant_encoders_gradient_only",
                  f"GE noise has the unmodulated gradient's standard deviation (within 5 %), as main.py: "
                  f"{METHODS_TEST}test_ogm_ge_generalisation_noise_has_the_unmodulated_gradients_std",
                  f"resume equals the uninterrupted run: "
                  f"{METHODS_TEST}test_resume_equals_uninterrupted_with_method_state"),
        deviations=("every encoder parameter is scaled and every weight matrix or kernel (dim >= 2) gets the noise; "
                    "the released code scales and perturbs convolution weights only",
                    "more than two modalities: rho_j = s_j / mean of the others' scores, an extension (paper and "
                    "code: two)")))


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
        code="GeWu-Lab/MMPareto_ICML2024 `code/MMPareto.py`, `code/min_norm_solvers.py`",
        verified=(f"gamma solves the two-gradient min-norm problem (against a grid of 10001 points): "
                  f"{METHODS_TEST}test_min_norm_weight_solves_the_two_gradient_problem",
                  f"under conflict the combination descends both losses, with the norm of g_u + g_m; gamma 1/2 "
                  f"otherwise: {METHODS_TEST}test_pareto_combination_descends_both_losses_with_the_summed_norm",
                  f"each encoder's gradient is that combination, each head its own loss's gradient: "
                  f"{METHODS_TEST}test_mmpareto_sets_each_encoders_gradient_to_the_pareto_combination",
                  f"rescale = released: the code's per-tensor formula (2 (gamma g_u + (1 - gamma) g_m), scaled up "
                  f"only, times 1.5) by hand: "
                  f"{METHODS_TEST}test_mmpareto_released_rescaling_pins_the_codes_per_tensor_formula"),
        deviations=("the default rescale = \"paper\" scales the whole encoder's combined direction to the norm of "
                    "g_u + g_m; the released code rescales tensor by tensor, only upwards, then times 1.5 "
                    "(`released` reproduces it)",)))

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
        code="haamoon/mmtm `mmtm.py`, `main_mmtm_ntu.py`",
        verified=(f"joint width 2 sum_j C_j / r; maps, vectors, three modalities: "
                  f"{BASELINES_TEST}test_mmtm_joint_width_and_shapes_for_maps_vectors_and_three_modalities",
                  f"gates g(W z + b), sigmoid or 2 sigmoid: "
                  f"{BASELINES_TEST}test_mmtm_gate_of_a_zero_excitation_is_g_of_its_bias_whatever_the_other_modality",
                  f"the squeeze is the spatial (and frame) mean; information crosses modalities: "
                  f"{BASELINES_TEST}test_mmtm_passes_information_across_modalities_and_squeezes_by_the_mean",
                  f"blocks after ResNet18 layer2-4 (the Greedy code's placement): "
                  f"{BASELINES_TEST}test_mmtm_fusion_places_blocks_after_the_last_common_stages",
                  f"the prediction is the mean of the branch heads' logits: "
                  f"{BASELINES_TEST}test_mmtm_method_predicts_the_mean_of_the_branch_heads",
                  f"each branch trained on its own cross-entropy, its logits' gradient softmax(z_j) - y, as "
                  f"main_mmtm_ntu.py: {FIDELITY_TEST}"
                  f"test_mmtm_branch_losses_give_each_branch_the_gradient_of_its_own_ce",
                  f"the same in a training step of the engine: "
                  f"{FIDELITY_TEST}test_mmtm_trains_each_branch_head_on_its_own_ce", RESUME),
        deviations=("vector encoders (MLPs) get a cross-modal gating of their hidden units, the squeeze the "
                    "identity; MMTM is defined between CNN stages",
                    "one step on sum_j CE(z_j) where the code takes one Adam step per branch: an encoder also "
                    "gets the gradient the other branches' CEs send through the MMTM gates, which the code "
                    "discards (0.1 to 5 % of the encoder's own-CE gradient norm on mfeat), and the MMTM blocks "
                    "take one step on the summed gradient instead of one per branch with its own Adam state")))


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
             "`configs/training_guided.gin`",
        verified=(f"learning speeds sum ||grad||^2 / sum ||theta||^2 and BDR_0 - BDR_1 by hand: "
                  f"{BASELINES_TEST}test_greedy_learning_speeds_and_imbalance_by_hand",
                  f"the shared squeeze layer counts in both branches' bypass: "
                  f"{BASELINES_TEST}test_greedy_groups_the_shared_squeeze_into_both_bypasses",
                  f"re-balancing for `window` steps after |d| > epsilon, those steps not accumulated: "
                  f"{BASELINES_TEST}test_greedy_rebalances_for_a_window_after_an_imbalance",
                  f"re-balancing branch c replaces c's gates by their running average, which cuts the flow into c: "
                  f"{BASELINES_TEST}test_greedy_caring_cuts_the_cross_modal_flow_into_that_branch",
                  f"the method.mmtm keys apply: {BASELINES_TEST}test_greedy_takes_the_mmtm_keys", RESUME,
                  f"its state survives a checkpoint: {BASELINES_TEST}test_baseline_state_survives_a_checkpoint"),
        deviations=("running gate averages per modality; the code averages the first modality's gates into both",
                    "a parameter without gradient counts as zero (the code raises an error on it)",
                    "the utilisation-rate diagnostic is not computed")))


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
        code=f"no code of the authors; the AGM authors' baseline, {AGM_CODE} `run/CREMAD_main.py` (MSLR branch)",
        verified=(f"the dynamic ratio: accuracy over its window's mean: "
                  f"{BASELINES_TEST}test_mslr_dynamic_ratio_is_the_accuracy_over_its_window_mean",
                  f"each modality's group rate is the scheduled rate times its factor: "
                  f"{BASELINES_TEST}test_mslr_group_rates_follow_the_schedule_times_each_factor",
                  f"under Adam each modality moves by its own rate: "
                  f"{BASELINES_TEST}test_mslr_under_adam_each_modality_moves_by_its_own_rate",
                  f"dynamic factors from validation accuracy: "
                  f"{BASELINES_TEST}test_mslr_dynamic_factors_come_from_validation_accuracy",
                  f"the rates apply in epochs start..end only (1-20), as the reference's window: "
                  f"{FIDELITY_TEST}test_mslr_rates_apply_inside_the_window_only"),
        deviations=("optimiser groups per modality; the reference scales gradients after backward, which Adam "
                    "cancels",
                    "accuracies on the validation split; the reference reads the test split")))


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
        code=f"{AGM_CODE} `model/CREMAD_net.py`, `run/CREMAD_main.py`, `utils/config.py`",
        verified=(f"responses are Shapley values plus v(empty) / M, summing to v(N): "
                  f"{BASELINES_TEST}test_agm_responses_are_efficient_and_exact_for_a_linear_fusion",
                  f"coefficients by hand, their direction and clip: "
                  f"{BASELINES_TEST}test_agm_coefficients_by_hand_direction_and_clip",
                  f"each response's gradient scaled by its coefficient: "
                  f"{BASELINES_TEST}test_agm_modulates_each_responses_gradient",
                  f"on mfeat: zeroed inputs, scores, running means, the norm-1 clip: "
                  f"{BASELINES_TEST}test_agm_method_on_mfeat",
                  f"modulated on epochs start..end counted from 1 (1-20 by default), the code's comparison: "
                  f"{FIDELITY_TEST}test_agm_window_is_the_codes_epochs_counted_from_one",
                  f"a run modulates epoch 20 and not 21: {FIDELITY_TEST}test_agm_run_modulates_epoch_20_and_not_21",
                  f"kappa cap and gradient clip per modality count (10 and 1; 7 and 5 with three, "
                  f"URFunny_main.py): {FIDELITY_TEST}test_agm_limits_per_modality_count",
                  f"the gradient clip at the code's limit: "
                  f"{FIDELITY_TEST}test_agm_clips_the_gradient_norm_at_the_codes_limit"),
        deviations=("outside the modulation epochs kappa = 1; the code keeps the last kappa",
                    "pad = \"feature\" zeroes the encoder features instead of the inputs (cheaper)")))
