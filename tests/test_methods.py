"""Methods: each one's mechanism acting on a tiny model (mfeat, MLP encoders), the fusions,
recipe errors, and resume through a method's state."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from engine.training.callbacks import RunCallback

from engine.contract import recipe as recipes
from engine.contract.events import Emitter
from engine.methods.base import Step
from engine.methods.gblend import blend_weights
from engine.methods.mmpareto import min_norm_weight, pareto_combine
from engine.methods.ogm_ge import coefficients, modality_scores
from engine.methods.pmr import class_means
from engine.setup import build_trainer
from engine.training.trainer import Trainer

from conftest import RECIPES, stopped_and_resumed

torch.set_num_threads(1)



class OnStep(RunCallback):
    """A run callback handing each step event to `fn`."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def on_step(self, ev) -> None:
        self.fn(ev)

def trainer(tmp_path: Path, method: str, *overrides: str, epochs: int = 1) -> Trainer:
    r = recipes.load(RECIPES / "mfeat.toml", [f"method.name={method}", f"train.epochs={epochs}", *overrides])
    return build_trainer(r, tmp_path, Emitter([]))


def ctx(t: Trainer, alpha: float = 0.0) -> Step:
    return Step(t.epoch, t.step_in_epoch, t.global_step, alpha, t.model)


def batch(t: Trainer, n: int = 64):
    return t.data.train.batch(torch.arange(n))


# ----------------------------------------------------------------------------- OGM-GE

def test_ogm_ge_coefficient_formula() -> None:
    """The paper's eq. 10 and the released code: 1 - tanh(alpha * rho) for rho > 1, else 1."""
    k = coefficients({"a": 30.0, "v": 10.0}, alpha=0.5)
    assert k["a"] == pytest.approx(1 - math.tanh(0.5 * 3))
    assert k["v"] == 1.0
    k = coefficients({"a": 1.974, "v": 1.0}, alpha=0.1)
    assert k["a"] == pytest.approx(1 - math.tanh(0.1 * 1.974)) and k["a"] == pytest.approx(0.805, abs=5e-4)
    assert coefficients({"a": 1.0, "v": 1.0}, alpha=0.1) == {"a": 1.0, "v": 1.0}  # rho = 1: no modulation


def test_ogm_ge_scales_the_dominant_encoders_gradient_only(tmp_path: Path) -> None:
    # one epoch without modulation makes pix (240 pixel averages) the dominant modality
    t = trainer(tmp_path, "ogm_ge", "method.ogm_ge.start=5", "method.ogm_ge.end=9", "method.ogm_ge.noise=false")
    assert t.train() == "ok"
    t.epoch = 6  # inside the modulation window
    inputs, labels = batch(t)
    c = ctx(t)
    out = t.method.forward(t.model, inputs, c)
    t.optimizer.zero_grad()
    terms = t.method.loss(out, labels, c)
    t.method.backward(terms, c)
    before = {m: [p.grad.clone() for p in t.model.encoders[m].parameters()] for m in ("pix", "mor")}
    t.method.on_after_backward(out, labels, terms, c)
    k = t.method.last_coefficients
    with torch.no_grad():
        scores = modality_scores(t.model.unimodal_logits(out.features), labels)
    assert scores["pix"] > scores["mor"]
    assert k["pix"] < 0.99 and k["mor"] == 1.0
    assert k["pix"] == pytest.approx(1 - math.tanh(0.1 * scores["pix"] / scores["mor"]), rel=1e-6)
    for m in ("pix", "mor"):
        for g0, p in zip(before[m], t.model.encoders[m].parameters()):
            assert torch.allclose(p.grad, g0 * k[m], atol=1e-7)


def test_ogm_ge_generalisation_noise_has_the_unmodulated_gradients_std(tmp_path: Path) -> None:
    t = trainer(tmp_path, "ogm_ge", "method.ogm_ge.alpha=1.0")
    inputs, labels = batch(t)
    c = ctx(t)
    out = t.method.forward(t.model, inputs, c)
    terms = t.method.loss(out, labels, c)
    t.method.backward(terms, c)
    w = {m: t.model.encoders[m].net[0].weight for m in ("pix", "mor")}
    g0 = {m: v.grad.clone() for m, v in w.items()}
    t.method.on_after_backward(out, labels, terms, c)
    m = min(t.method.last_coefficients, key=t.method.last_coefficients.get)  # the modulated modality
    k = t.method.last_coefficients[m]
    assert k < 0.5  # alpha 1: the modulated gradient's std is less than half of the unmodulated one
    noise = w[m].grad - k * g0[m]
    assert noise.std().item() == pytest.approx(g0[m].std().item(), rel=0.05)  # as the released code


# ----------------------------------------------------------------------------- G-Blend

def test_gblend_weights_are_generalisation_over_squared_overfitting() -> None:
    w = blend_weights(train_before={"fused": 1.0, "a": 1.0, "b": 1.0},
                      train_after={"fused": 0.5, "a": 0.2, "b": 0.1},
                      val_before={"fused": 1.0, "a": 1.0, "b": 1.0},
                      val_after={"fused": 0.7, "a": 0.9, "b": 1.2})
    raw = {"fused": 0.3 / 0.2 ** 2, "a": 0.1 / 0.7 ** 2, "b": 0.0}  # b got worse on held-out data
    z = sum(raw.values())
    assert w == pytest.approx({k: v / z for k, v in raw.items()})
    assert blend_weights({"a": 1.0}, {"a": 0.5}, {"a": 1.0}, {"a": 1.1}) is None


def test_gblend_weights_follow_the_losses_it_measured(tmp_path: Path) -> None:
    t = trainer(tmp_path, "gblend", "method.gblend.super_epoch=1")
    assert t.method.weights == pytest.approx({"fused": 1 / 3, "pix": 1 / 3, "mor": 1 / 3})
    start = t.method.reference
    assert t.train() == "ok"
    now = t.method.measure(t)  # the model has not changed since the end of epoch 1
    for split in ("train", "val"):
        assert now[split] == pytest.approx(t.method.reference[split])
    assert t.method.weights == pytest.approx(blend_weights(start["train"], now["train"], start["val"], now["val"]))
    assert sum(t.method.weights.values()) == pytest.approx(1.0)
    # the loss uses them
    inputs, labels = batch(t)
    c = ctx(t)
    terms = t.method.loss(t.method.forward(t.model, inputs, c), labels, c)
    w = t.method.weights
    expected = w["fused"] * terms["cls"] + w["pix"] * terms["uni_pix"] + w["mor"] * terms["uni_mor"]
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


# ----------------------------------------------------------------------------- MLA

def test_mla_steps_each_modality_in_turn_on_every_batch(tmp_path: Path) -> None:
    """As the released code: per batch, one optimiser step per modality, its encoder and the
    shared head; the other encoder is not run."""
    t = trainer(tmp_path, "mla")
    assert t.model.fusion_name == "shared" and t.method.substeps(t.ctx) == 2
    inputs, labels = batch(t)
    seen = []
    t.optimizer.step = (lambda step: lambda *a, **k: (seen.append(
        {m: any(p.grad is not None for p in t.model.encoders[m].parameters()) for m in ("pix", "mor")}),
        step(*a, **k)))(t.optimizer.step)
    head = t.model.fusion.head.weight
    before = head.detach().clone()
    losses = t.train_step(inputs, labels, 0.0)
    assert seen == [{"pix": True, "mor": False}, {"pix": False, "mor": True}]
    assert set(losses) == {"total", "cls", "uni_pix", "uni_mor"}
    assert losses["total"] == pytest.approx(losses["uni_pix"] + losses["uni_mor"])  # summed over the sub-steps
    assert not torch.equal(head.detach(), before)


def test_mla_entropy_fusion_weights_the_certain_modality() -> None:
    from engine.models.fusion import Shared

    f = Shared(("a", "b"), 2, 2).eval()
    with torch.no_grad():
        f.head.weight.copy_(torch.eye(2) * 10)
        f.head.bias.zero_()
    feats = {"a": torch.tensor([[1.0, 0.0]]), "b": torch.tensor([[0.0, 0.05]])}
    logits = f(feats)
    parts = f.parts(feats)
    pa, pb = (torch.softmax(parts[m], 1) for m in "ab")
    ha, hb = (-(p * p.log()).sum() for p in (pa, pb))
    w = torch.softmax(torch.stack([-ha, -hb]), 0)
    assert w[0] > 0.5  # a is far more certain
    assert torch.allclose(logits, w[0] * parts["a"] + w[1] * parts["b"])  # the paper's weighted sum
    f.train()
    assert torch.allclose(f(feats), (parts["a"] + parts["b"]) / 2)


# ----------------------------------------------------------------------------- MMPareto

def test_min_norm_weight_solves_the_two_gradient_problem() -> None:
    g = torch.Generator().manual_seed(0)
    grid = torch.linspace(0, 1, 10001)
    for _ in range(20):
        a, b = torch.randn(5, generator=g), torch.randn(5, generator=g)
        gamma = min_norm_weight(a, b)
        norms = ((grid[:, None] * a + (1 - grid[:, None]) * b) ** 2).sum(1)
        assert gamma == pytest.approx(float(grid[norms.argmin()]), abs=2e-4)


def test_pareto_combination_descends_both_losses_with_the_summed_norm() -> None:
    gu, gm = torch.tensor([1.0, 0.0]), torch.tensor([-0.5, 1.0])  # conflicting
    d, gamma = pareto_combine(gu, gm)
    assert 0 < gamma < 1 and gamma == pytest.approx(min_norm_weight(gu, gm))
    assert float(d @ gu) >= -1e-6 and float(d @ gm) >= -1e-6
    assert d.norm().item() == pytest.approx((gu + gm).norm().item())
    same, half = pareto_combine(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.5]))
    assert half == 0.5 and torch.allclose(same, torch.tensor([3.0, 1.5]))


def test_mmpareto_sets_each_encoders_gradient_to_the_pareto_combination(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mmpareto")
    inputs, labels = batch(t)
    c = ctx(t)
    params = list(t.model.encoders["mor"].parameters())
    out = t.method.forward(t.model, inputs, c)
    terms = t.method.loss(out, labels, c)
    gm = torch.cat([g.reshape(-1) for g in torch.autograd.grad(terms["cls"], params, retain_graph=True)])
    gu = torch.cat([g.reshape(-1) for g in torch.autograd.grad(terms["uni_mor"], params, retain_graph=True)])
    head = t.model.aux_heads["mor"].weight
    g_head = torch.autograd.grad(terms["uni_mor"], head, retain_graph=True)[0]
    t.method.backward(terms, c)
    got = torch.cat([p.grad.reshape(-1) for p in params])
    expected, gamma = pareto_combine(gu, gm)
    assert torch.allclose(got, expected, atol=1e-6)
    assert t.method.last_gamma["mor"] == gamma
    assert torch.allclose(head.grad, g_head, atol=1e-6)  # a head gets its own loss's gradient


def test_mmpareto_released_rescaling_pins_the_codes_per_tensor_formula(tmp_path: Path) -> None:
    from engine.methods.mmpareto import released_combine

    gu = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])]
    gm = [torch.tensor([-0.5, 1.0]), torch.tensor([0.0, 1.0])]
    out = released_combine(gu, gm, gamma=0.25)
    # h0 = 2 (0.25 gu + 0.75 gm) = (-0.25, 1.5), norm 1.52 > |gu + gm| = 1.12: kept, times 1.5
    assert torch.allclose(out[0], torch.tensor([-0.375, 2.25]))
    # h1 = (0, 2.5), norm 2.5 < |gu + gm| = 3: scaled up by 1.2, times 1.5
    assert torch.allclose(out[1], torch.tensor([0.0, 4.5]))
    big = released_combine([torch.tensor([4.0])], [torch.tensor([4.0])], gamma=0.5)
    assert torch.allclose(big[0], torch.tensor([12.0]))      # no conflict: 1.5 (g_u + g_m), never scaled down
    t = trainer(tmp_path, "mmpareto", "method.mmpareto.rescale=released")
    inputs, labels = batch(t)
    c = ctx(t)
    params = list(t.model.encoders["mor"].parameters())
    out_ = t.method.forward(t.model, inputs, c)
    terms = t.method.loss(out_, labels, c)
    gm_ = torch.autograd.grad(terms["cls"], params, retain_graph=True)
    gu_ = torch.autograd.grad(terms["uni_mor"], params, retain_graph=True)
    t.method.backward(terms, c)
    expected = released_combine(list(gu_), list(gm_), t.method.last_gamma["mor"])
    for p, e in zip(params, expected):
        assert torch.allclose(p.grad, e, atol=1e-6)


# ----------------------------------------------------------------------------- PMR

def test_pmr_prototypes_are_class_means_then_momentum_mixes(tmp_path: Path) -> None:
    feats = torch.tensor([[0.0, 0.0], [2.0, 4.0], [1.0, 1.0]])
    assert torch.allclose(class_means(feats, torch.tensor([0, 0, 1]), 3),
                          torch.tensor([[1.0, 2.0], [1.0, 1.0], [0.0, 0.0]]))

    t = trainer(tmp_path, "pmr", "method.pmr.momentum=0.25")

    def means():
        t.model.eval()
        with torch.no_grad():
            f = t.model.encode(t.data.train.inputs)
        return {m: class_means(v, t.data.train.labels, 10) for m, v in f.items()}

    first = means()
    for m in ("pix", "mor"):
        assert torch.allclose(t.method.prototypes[m], first[m], atol=1e-5)
    assert t.train() == "ok"
    new = means()
    for m in ("pix", "mor"):
        assert torch.allclose(t.method.prototypes[m], 0.75 * new[m] + 0.25 * first[m], atol=1e-5)


def test_pmr_adds_the_prototype_loss_of_the_weaker_modality(tmp_path: Path) -> None:
    t = trainer(tmp_path, "pmr", "method.pmr.alpha=0.7")
    assert t.train() == "ok"
    inputs, labels = batch(t)
    c = ctx(t)
    out = t.method.forward(t.model, inputs, c)
    terms = t.method.loss(out, labels, c)
    t.method.on_after_backward(out, labels, terms, c)
    w = t.method.last_weights
    assert sorted(w.values()) == [0.0, 0.7]
    weak = min(w, key=lambda m: -w[m])
    assert weak == "mor"  # 6 morphological features against 240 pixels
    expected = terms["cls"] + 0.7 * terms["proto_mor"]
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


# ----------------------------------------------------------------------------- fusions

@pytest.mark.parametrize("method", ["concat", "sum", "weight", "film", "gated"])
def test_fusion_shapes_parts_and_training(tmp_path: Path, method: str) -> None:
    t = trainer(tmp_path, method, epochs=2)
    assert t.model.fusion_name == method and not t.method.uses_alpha
    inputs, labels = batch(t, 5)
    out = t.model.eval()(inputs)
    assert out.logits.shape == (5, 10)
    parts = t.model.unimodal_logits(out.features)
    assert set(parts) == {"pix", "mor"} and all(p.shape == (5, 10) for p in parts.values())
    if method in ("concat", "sum", "weight"):
        assert torch.allclose(parts["pix"] + parts["mor"], out.logits, atol=1e-5)
    losses = []
    t.report.callbacks.append(OnStep(lambda ev: losses.append(ev.losses)))
    assert t.train() == "ok"
    assert set(losses[0]) == {"total", "cls"}  # no matching loss computed
    assert t.best["acc"] > 80.0  # ten classes: chance is 10 %
    if method == "weight":
        w = t.model.fusion.weights()
        assert w.sum().item() == pytest.approx(1.0) and not torch.allclose(w, torch.full((2,), 0.5))


def test_film_and_gated_formulas() -> None:
    from engine.models.fusion import FiLM, Gated

    torch.manual_seed(0)
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    f = FiLM(("a", "b"), 4, 2)
    gamma, beta = f.film(a).chunk(2, 1)
    assert torch.allclose(f({"a": a, "b": b}), f.out(gamma * b + beta))
    g = Gated(("a", "b"), 4, 2)
    assert torch.allclose(g({"a": a, "b": b}), g.out(torch.sigmoid(g.fc_gate(a)) * g.fc_value(b)))


def test_unimodal_trains_one_modality_and_ignores_the_others(tmp_path: Path) -> None:
    t = trainer(tmp_path, "unimodal", "method.modality=mor")
    assert t.model.modalities == ("mor",) and set(t.model.encoders) == {"mor"}
    inputs, _ = batch(t, 4)
    assert t.model({"mor": inputs["mor"]}).logits.shape == (4, 10)
    assert t.train() == "ok"
    assert set(t.evaluator.evaluate("val", 1)["modalities"]) == {"mor"}


def test_lfm_is_the_default_and_concat_reports_alpha_zero(tmp_path: Path) -> None:
    assert recipes.load(RECIPES / "mfeat.toml").method.name == "lfm"
    t = trainer(tmp_path, "concat")
    steps = []
    t.report.callbacks.append(OnStep(lambda ev: steps.append(ev)))
    t.train()
    assert all(s["alpha"] == 0.0 for s in steps)


# ----------------------------------------------------------------------------- recipes

@pytest.mark.parametrize("overrides,message", [
    (["method.name=ogmge"], "method.name: expected one of"),
    (["method.name=concat", "method.ogm_ge.alpha=0.3"],
     "method.ogm_ge: method 'concat' does not take it (taken by 'ogm_ge')"),
    (["method.name=pmr", "method.modality=pix"], "method.modality: method 'pmr' does not take it"),
    (["method.name=unimodal"], "method.modality: the unimodal method needs the modality to keep"),
    (["method.name=unimodal", "method.modality=fou"], "method.modality: the unimodal method needs"),
    (["method.name=film", "data.modalities=[pix,mor,fou]"], "method.name: 'film' fuses exactly two"),
    (["method.name=ogm_ge", "method.ogm_ge.alfa=1"], "method.ogm_ge.alfa: unknown key (did you mean"),
])
def test_method_errors_are_clear(overrides: list[str], message: str) -> None:
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(RECIPES / "mfeat.toml", overrides)
    assert any(p.startswith(message) for p in info.value.problems), info.value.problems


@pytest.mark.slow
@pytest.mark.parametrize("method", ["pmr", "gblend", "ogm_ge", "mla"])
def test_resume_equals_uninterrupted_with_method_state(tmp_path: Path, method: str) -> None:
    extra = ["method.gblend.super_epoch=1"] if method == "gblend" else []
    full, resumed = stopped_and_resumed(tmp_path, [f"method.name={method}", *extra])
    assert resumed["test"] == pytest.approx(full["test"], rel=1e-6)
