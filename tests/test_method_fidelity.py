"""Baselines against what their authors' code computes, each checked against numbers worked out
by hand or by a small dense reference written here: MSES's criterion heads, Channel (MMTM)'s
per-branch cross-entropies, ReconBoost's stage-0 boosting loss, AGM's and MSLR's epoch window
and AGM's three-modality limits."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from engine.contract import recipe as recipes
from engine.contract.events import Emitter
from engine.setup import build_trainer
from engine.training.trainer import Trainer

from conftest import RECIPES

torch.set_num_threads(1)

NO_DROPOUT = [f"model.encoders.{m}.dropout=0" for m in ("pix", "mor", "fou")]


def trainer(tmp_path: Path, method: str, *overrides: str, epochs: int = 1) -> Trainer:
    r = recipes.load(RECIPES / "mfeat.toml", [f"method.name={method}", f"train.epochs={epochs}", *overrides])
    return build_trainer(r, tmp_path, Emitter([]))


def batch(t: Trainer, n: int = 64):
    return t.data.train.batch(torch.arange(n))


def snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


# ----------------------------------------------------------------------------- MSES

def test_mses_without_multitask_reads_the_sum_fusion_heads_that_add_up_to_the_fused_logits(tmp_path: Path) -> None:
    from engine.methods.mses import criterion_logits

    t = trainer(tmp_path, "mses", "method.mses.multitask=false", "model.fusion=sum", *NO_DROPOUT[:2])
    assert not hasattr(t.model, "aux_heads")  # no head outside the trained model
    inputs, _ = batch(t, 16)
    with torch.no_grad():
        out = t.model(inputs)
        heads = criterion_logits(t.model, out.features, multitask=False)
    assert set(heads) == {"pix", "mor"}
    assert torch.allclose(heads["pix"] + heads["mor"], out.logits, atol=1e-5)
    w, b = t.model.fusion.heads["mor"].weight, t.model.fusion.heads["mor"].bias
    assert torch.allclose(heads["mor"], out.features["mor"] @ w.T + b, atol=1e-5)


def test_mses_without_multitask_decides_from_heads_that_train(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mses", "method.mses.multitask=false", "model.fusion=sum", "method.mses.patience=1",
                epochs=3)
    heads = t.model.fusion.heads
    before = snapshot(heads.parameters())
    assert t.train() == "ok"
    moved = max(float((p.detach() - b).abs().max()) for p, b in zip(heads.parameters(), before))
    assert moved > 1e-3  # the fused cross-entropy trains the heads the criterion reads
    history = t.method.stopping.history
    for m in ("pix", "mor"):
        assert len(history[m]) == 3
        assert history[m][2] < history[m][0] < math.log(10)  # validation CE falls, below chance
    assert t.method.stopping.stopped == {}  # nothing stops on heads that never trained


def test_mses_without_multitask_refuses_a_fusion_other_than_sum() -> None:
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(RECIPES / "mfeat.toml", ["method.name=mses", "method.mses.multitask=false"])
    assert any(p.startswith("method.mses.multitask: false reads each modality's head of the sum fusion")
               and "model.fusion = \"sum\" (found 'concat')" in p for p in info.value.problems), info.value.problems
    recipes.load(RECIPES / "mfeat.toml", ["method.name=mses", "method.mses.multitask=false", "model.fusion=sum"])
    recipes.load(RECIPES / "mfeat.toml", ["method.name=mses"])  # multitask (the default) with concat


# ----------------------------------------------------------------------------- Channel (MMTM)

def test_mmtm_branch_losses_give_each_branch_the_gradient_of_its_own_ce() -> None:
    from engine.methods.mmtm import branch_losses

    torch.manual_seed(0)
    z = {"a": torch.randn(5, 4, requires_grad=True), "v": torch.randn(5, 4, requires_grad=True)}
    labels = torch.tensor([0, 3, 1, 1, 2])
    y = F.one_hot(labels, 4).double()
    losses = branch_losses(z, labels)
    sum(losses.values()).backward()
    for m, zm in z.items():
        p = torch.softmax(zm.detach().double(), 1)
        assert losses[m].item() == pytest.approx(float(-(y * p.log()).sum(1).mean()), rel=1e-6)
        assert torch.allclose(zm.grad.double(), (p - y) / 5, atol=1e-7)


def test_mmtm_trains_each_branch_head_on_its_own_ce(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mmtm", "optim.weight_decay=0", *NO_DROPOUT[:2])
    inputs, labels = batch(t, 32)
    with torch.no_grad():
        out = t.model(inputs)
        z = {m: t.model.fusion.heads[m](f) for m, f in out.features.items()}
    y = F.one_hot(labels, 10).float()
    losses = {k: float(v) for k, v in t.train_step(inputs, labels, 0.0).items()}
    for m in ("pix", "mor"):
        g = (torch.softmax(z[m], 1) - y) / 32  # dCE(z_j)/dz_j, not (softmax(mean) - y) / 2 / 32
        head = t.model.fusion.heads[m]
        assert torch.allclose(head.bias.grad, g.sum(0), atol=1e-6)
        assert torch.allclose(head.weight.grad, g.T @ out.features[m], atol=1e-5)
        assert losses[f"uni_{m}"] == pytest.approx(float(F.cross_entropy(z[m], labels)), rel=1e-5)
    assert losses["total"] == pytest.approx(losses["uni_pix"] + losses["uni_mor"], rel=1e-6)
    assert losses["cls"] == pytest.approx(float(F.cross_entropy((z["pix"] + z["mor"]) / 2, labels)), rel=1e-5)


# ----------------------------------------------------------------------------- ReconBoost

def test_reconboost_boosting_loss_with_an_empty_ensemble_by_hand() -> None:
    from engine.methods.reconboost import boosting_loss

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 2])
    loss = boosting_loss(logits, None, labels, w1=5.0, w2=1.0)
    logp0 = 2.0 - math.log(math.exp(2) + 1 + math.exp(-1))
    logp1 = 0.0 - math.log(2 * math.exp(0.5) + 1)
    assert loss.item() == pytest.approx((1.0 - 5.0) / 3 * (logp0 + logp1) / 2, rel=1e-6)  # p_-m(y) = 1
    loss.backward()
    p = torch.softmax(logits.detach(), 1)
    assert torch.allclose(logits.grad, (5.0 - 1.0) / 3 / 2 * (p - F.one_hot(labels, 3)), atol=1e-7)


def test_reconboost_stage_zero_loss_is_the_codes(tmp_path: Path) -> None:
    t = trainer(tmp_path, "reconboost", *NO_DROPOUT[:2])  # epoch 1: stage 0 boosts pix, the ensemble without it is empty
    inputs, labels = batch(t)
    with torch.no_grad():
        logp = torch.log_softmax(t.model.fusion.head(t.model.encoders["pix"](inputs["pix"])).double(), 1)
    expected = (1.0 - 5.0) / 10 * float(logp[torch.arange(64), labels].mean())  # (w2 - w1) / C mean log p(y)
    losses = {k: float(v) for k, v in t.train_step(inputs, labels, 0.0).items()}
    assert losses["boost"] == pytest.approx(expected, rel=1e-5)
    assert losses["total"] == pytest.approx(expected, rel=1e-5)  # no reconcilement term at stage 0


# ----------------------------------------------------------------------------- AGM and MSLR windows

def test_agm_window_is_the_codes_epochs_counted_from_one() -> None:
    from engine.methods.agm import modulated

    assert [t for t in range(1, 30) if modulated(t, 0, 20)] == list(range(1, 21))  # the defaults: 1..20
    assert [t for t in range(1, 30) if modulated(t, 1, 20)] == list(range(1, 21))  # start 0 and 1 alike
    assert [t for t in range(1, 30) if modulated(t, 3, 5)] == [3, 4, 5]
    assert not any(modulated(t, 6, 5) for t in range(1, 30))


def test_agm_run_modulates_epoch_20_and_not_21(tmp_path: Path) -> None:
    t = trainer(tmp_path, "agm", *NO_DROPOUT[:2], epochs=25)
    inputs, labels = batch(t)
    t.epoch = 20
    t.train_step(inputs, labels, 0.0)
    assert all(k != 1.0 for k in t.method.last_coefficients.values())
    t.epoch = 21
    t.train_step(inputs, labels, 0.0)
    assert t.method.last_coefficients == {"pix": 1.0, "mor": 1.0}


def test_agm_limits_per_modality_count() -> None:
    from engine.methods.agm import coefficients, limits

    assert limits(2) == (10.0, 1.0) and limits(3) == (7.0, 5.0)
    two = coefficients({"a": 1.0, "v": 1.0}, {"a": 20.0, "v": 0.0}, alpha=1.0)
    assert two["v"] == pytest.approx(math.exp(10.0))  # exp(2 * 10) - 1 clipped at 10
    three = coefficients({"a": 1.0, "v": 1.0, "t": 1.0}, {"a": 9.0, "v": 0.0, "t": 0.0}, alpha=0.5)
    assert three["v"] == pytest.approx(math.exp(0.5 * 7.0))  # exp(1.5 * 3) - 1 clipped at 7


@pytest.mark.parametrize("modalities,norm", [(["pix", "mor"], 1.0), (["pix", "mor", "fou"], 5.0)])
def test_agm_clips_the_gradient_norm_at_the_codes_limit(tmp_path: Path, modalities: list[str], norm: float) -> None:
    t = trainer(tmp_path, "agm", f"data.modalities=[{','.join(modalities)}]", *NO_DROPOUT)
    with torch.no_grad():
        for m in modalities:  # features x100: the fusion's weight gradient leaves [-5, 5]
            t.model.encoders[m].net[-1].weight.mul_(100.0)
            t.model.encoders[m].net[-1].bias.mul_(100.0)
    t.train_step(*batch(t), 0.0)
    grads = [p.grad for p in t.model.parameters() if p.grad is not None]
    assert float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads))) == pytest.approx(norm, rel=1e-4)


def test_mslr_rates_apply_inside_the_window_only(tmp_path: Path) -> None:
    from engine.methods.mslr import rate_factors

    c = {"a": 0.9, "v": 1.1}
    assert [rate_factors(c, t, 0, 20) for t in (1, 20, 21)] == [c, c, {"a": 1.0, "v": 1.0}]
    assert rate_factors(c, 2, 3, 5) == {"a": 1.0, "v": 1.0} and rate_factors(c, 3, 3, 5) == c
    t = trainer(tmp_path, "mslr", "method.mslr.rates=[2.0,0.5]", "method.mslr.strategy=keep",
                "method.mslr.start=2", "method.mslr.end=3", epochs=5)
    inputs, labels = batch(t)
    lrs = {}
    for epoch in (1, 2, 3, 4):
        t.epoch = epoch
        t.train_step(inputs, labels, 0.0)
        lrs[epoch] = [g["lr"] / t.optimizer.param_groups[0]["lr"] for g in t.optimizer.param_groups[1:]]
    assert lrs == {1: [1.0, 1.0], 2: pytest.approx([2.0, 0.5]), 3: pytest.approx([2.0, 0.5]), 4: [1.0, 1.0]}
