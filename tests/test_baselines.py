"""Nine of the baselines (Channel/MMTM, ML-LSTM, ETMC, MSES, Greedy, DOMFN, MSLR,
AGM, ReconBoost): each mechanism with numbers on tiny inputs or the mfeat model (MLP encoders),
the engine parts they share (per-modality groups, freezing, staged encoders), their recipe
errors, and resume through their state."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from engine.contract import recipe as recipes
from engine.contract.events import Emitter
from engine.methods.base import Step, freeze, modality_parameters
from engine.models.encoders import MLP, FramesPooled, ResNet18Small, SmallCNN
from engine.models.mmtm import MMTM, MMTMFusion, squeeze
from engine.setup import build_trainer
from engine.training.trainer import Trainer

from conftest import RECIPES, stopped_and_resumed

torch.set_num_threads(1)


def trainer(tmp_path: Path, method: str, *overrides: str, epochs: int = 1) -> Trainer:
    r = recipes.load(RECIPES / "mfeat.toml", [f"method.name={method}", f"train.epochs={epochs}", *overrides])
    return build_trainer(r, tmp_path, Emitter([]))


def ctx(t: Trainer, substep: int = 0) -> Step:
    return Step(t.epoch, t.step_in_epoch, t.global_step, 0.0, t.model, None, substep)


def batch(t: Trainer, n: int = 64):
    return t.data.train.batch(torch.arange(n))


def snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ----------------------------------------------------------------------------- engine parts

def test_modality_parameters_partition_the_model(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mses")  # encoders, projections, aux heads per modality; a concat head
    groups = modality_parameters(t.model)
    names = {id(p): n for n, p in t.model.named_parameters()}
    assert sorted(len(v) for v in groups.values()) == [2, 8, 8]
    for m in ("pix", "mor"):
        assert all(names[id(p)].split(".")[1] == m for p in groups[m])
    assert [names[id(p)] for p in groups["shared"]] == ["fusion.head.weight", "fusion.head.bias"]
    assert sum(len(v) for v in groups.values()) == len(list(t.model.parameters()))


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_freeze_keeps_parameters_bit_identical_under_momentum_and_weight_decay(tmp_path: Path, optim: str) -> None:
    t = trainer(tmp_path, "concat", f"optim.name={optim}", "optim.momentum=0.9", "optim.weight_decay=0.01")
    inputs, labels = batch(t)
    t.train_step(inputs, labels, 0.0)  # momentum and Adam moments exist from here on
    mor, pix = list(t.model.encoders["mor"].parameters()), list(t.model.encoders["pix"].parameters())
    before_mor, before_pix = snapshot(mor), snapshot(pix)
    for _ in range(5):
        t.optimizer.zero_grad()
        F.cross_entropy(t.model(inputs).logits, labels).backward()
        freeze(mor)
        t.optimizer.step()
    assert same(mor, before_mor) and not same(pix, before_pix)


def test_encoder_stages_compose_to_the_encoder() -> None:
    torch.manual_seed(0)
    for enc, x in [(MLP(5, (7, 9), 4, 0.1), torch.randn(3, 5)), (SmallCNN(3, (4, 6), 5), torch.randn(2, 3, 16, 16)),
                   (ResNet18Small(1, 16, 5), torch.randn(2, 1, 16, 16))]:
        enc.eval()
        h = x
        for stage in enc.stages():
            h = stage(h)
        assert torch.allclose(h, enc(x), atol=1e-6)
    assert len(ResNet18Small(1, 16, 5).stages()) == 6 and len(MLP(5, (7, 9), 4).stages()) == 3


# ----------------------------------------------------------------------------- MMTM (Channel)

def test_mmtm_joint_width_and_shapes_for_maps_vectors_and_three_modalities() -> None:
    block = MMTM({"a": 8, "b": 4, "c": 6}, ratio=4)
    assert block.joint_width == int(2 * 18 / 4) == 9
    maps = {"a": torch.randn(2, 8, 5, 5), "b": torch.randn(2, 4), "c": torch.randn(6, 6, 3, 3)}  # c: 3 frames
    out = block(maps, batch=2)
    assert {m: o.shape for m, o in out.items()} == {m: x.shape for m, x in maps.items()}


def test_mmtm_gate_of_a_zero_excitation_is_g_of_its_bias_whatever_the_other_modality() -> None:
    torch.manual_seed(0)
    for gate, g in (("sigmoid", torch.sigmoid), ("double_sigmoid", lambda x: 2 * torch.sigmoid(x))):
        block = MMTM({"a": 3, "b": 5}, gate=gate)
        beta = torch.tensor([0.5, -1.0, 2.0])
        with torch.no_grad():
            block.excitation["a"].weight.zero_()
            block.excitation["a"].bias.copy_(beta)
        a = torch.randn(4, 3, 2, 2)
        out1 = block({"a": a, "b": torch.randn(4, 5, 2, 2)}, 4)["a"]
        out2 = block({"a": a, "b": 10 * torch.randn(4, 5, 2, 2)}, 4)["a"]
        assert torch.allclose(out1, g(beta)[None, :, None, None] * a) and torch.equal(out1, out2)


def test_mmtm_passes_information_across_modalities_and_squeezes_by_the_mean() -> None:
    torch.manual_seed(0)
    block = MMTM({"a": 3, "b": 5})
    b = torch.randn(2, 5, 4, 4, requires_grad=True)
    out = block({"a": torch.randn(2, 3, 4, 4), "b": b}, 2)["a"]
    (grad,) = torch.autograd.grad(out.sum(), b)
    assert grad.abs().sum() > 0  # modality a's output depends on b
    a = torch.randn(2, 3, 2, 2)
    tiled = a.repeat(1, 1, 3, 3)  # the same spatial mean
    g1 = block.gates({"a": squeeze(a, 2), "b": squeeze(b.detach(), 2)})
    assert torch.allclose(squeeze(a, 2), a.mean((2, 3))) and torch.allclose(squeeze(tiled, 2), squeeze(a, 2))
    assert torch.allclose(g1["a"], block.gates({"a": squeeze(tiled, 2), "b": squeeze(b.detach(), 2)})["a"])
    video = torch.randn(2 * 3, 3, 2, 2)  # (batch * frames, C, H, W): the mean over frames and space
    assert torch.allclose(squeeze(video, 2), video.view(2, 3, 3, 4).mean((1, 3)), atol=1e-6)


def test_mmtm_fusion_places_blocks_after_the_last_common_stages() -> None:
    torch.manual_seed(0)
    enc = torch.nn.ModuleDict({"a": SmallCNN(3, (4, 6, 8), 5), "b": ResNet18Small(1, 16, 5)})
    sample = {"a": torch.randn(2, 3, 16, 16), "b": torch.randn(2, 1, 16, 16)}
    f = MMTMFusion(enc, sample, depth=3)
    # ResNet18: layer2, layer3, layer4 (128, 256, 512 channels), the Greedy code's placement
    assert [{m: b.excitation[m].out_features for m in "ab"} for b in f.blocks] == [
        {"a": 8, "b": 512}, {"a": 6, "b": 256}, {"a": 4, "b": 128}]
    assert f.encode(enc, sample)["a"].shape == (2, 5)
    flat = MMTMFusion(torch.nn.ModuleDict({"a": MLP(4, (), 3), "b": MLP(5, (7,), 3)}),
                      {"a": torch.randn(2, 4), "b": torch.randn(2, 5)}, depth=3)
    assert flat.points == (0,) and flat.blocks[0].excitation["a"].out_features == 3  # on the features


def test_mmtm_fusion_with_neutral_gates_is_the_encoders_own_forward_video_included() -> None:
    torch.manual_seed(0)
    enc = torch.nn.ModuleDict({"v": FramesPooled(SmallCNN(3, (4, 6), 5)), "x": MLP(7, (9, 9), 5)}).eval()
    sample = {"v": torch.randn(2, 3, 3, 8, 8), "x": torch.randn(2, 7)}  # 3 frames a clip
    f = MMTMFusion(enc, sample, depth=2, gate="double_sigmoid").eval()
    with torch.no_grad():
        for block in f.blocks:
            for lin in block.excitation.values():
                lin.weight.zero_()
                lin.bias.zero_()  # 2 sigmoid(0) = 1: every gate neutral
    assert len(f.blocks) == 2
    got = f.encode(enc, sample)
    for m in enc:
        assert torch.allclose(got[m], enc[m](sample[m]), atol=1e-6)


def test_mmtm_method_predicts_the_mean_of_the_branch_heads(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mmtm")
    blocks = t.model.intermediate.blocks
    assert len(blocks) == 1 and blocks[0].joint_width == 2 * 256 // 4  # after the MLPs' hidden layer (128 each)
    inputs, labels = batch(t, 8)
    t.model.eval()
    out = t.model(inputs)
    parts = t.model.unimodal_logits(out.features)
    assert torch.allclose(out.logits, (parts["pix"] + parts["mor"]) / 2, atol=1e-6)
    before = snapshot(blocks.parameters())
    t.train_step(*batch(t), 0.0)
    assert not same(blocks.parameters(), before)  # MMTM trains with the model


# ----------------------------------------------------------------------------- ML-LSTM

def test_ml_lstm_is_an_lstm_over_the_modality_sequence(tmp_path: Path) -> None:
    from engine.models.fusion import LSTMFusion

    torch.manual_seed(0)
    f = LSTMFusion(("a", "b"), 4, 3, layers=2)
    feats = {"a": torch.randn(5, 4), "b": torch.randn(5, 4)}
    assert f(feats).shape == (5, 3)
    assert not torch.allclose(f(feats), f({"a": feats["b"], "b": feats["a"]}))  # order matters
    one = LSTMFusion(("a",), 4, 3, layers=1)
    w_ih, b = one.lstm.weight_ih_l0, one.lstm.bias_ih_l0 + one.lstm.bias_hh_l0
    i, _, g, o = (feats["a"] @ w_ih.T + b).chunk(4, 1)  # one step from zero state: c = i g
    h = torch.sigmoid(o) * torch.tanh(torch.sigmoid(i) * torch.tanh(g))
    assert torch.allclose(one({"a": feats["a"]}), one.out(h), atol=1e-6)
    t = trainer(tmp_path, "ml_lstm")
    assert t.model.fusion.lstm.num_layers == 2 and t.model.fusion.lstm.hidden_size == 64
    out = t.model(batch(t, 16)[0])
    out.logits.sum().backward()
    assert all(t.model.encoders[m].net[0].weight.grad.abs().sum() > 0 for m in ("pix", "mor"))


# ----------------------------------------------------------------------------- ETMC

def _alpha(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_etmc_opinions_and_their_dempster_shafer_combination() -> None:
    from engine.models.evidential import combine, opinion

    a1, a2 = _alpha([5.0, 1.0, 2.0], [1.0, 1.0, 1.5]), _alpha([3.0, 1.5, 1.0], [1.0, 4.0, 1.0])
    for a in (a1, a2, combine(a1, a2)):
        b, u = opinion(a)
        assert torch.allclose(b.sum(-1) + u[:, 0], torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(combine(a1, torch.ones_like(a1)), a1)  # a vacuous opinion changes nothing
    assert torch.allclose(combine(a1, a2), combine(a2, a1))
    agree = _alpha([9.0, 1.0, 1.0])
    u1, u2, u12 = opinion(agree)[1], opinion(_alpha([6.0, 1.0, 1.0]))[1], opinion(combine(agree, _alpha([6.0, 1.0, 1.0])))[1]
    assert float(u12) < min(float(u1), float(u2))
    b1, v1 = opinion(a1[:1])  # by hand for the first row
    b2, v2 = opinion(a2[:1])
    k = b1.sum() * b2.sum() - (b1 * b2).sum()
    b = (b1 * b2 + b1 * v2 + b2 * v1) / (1 - k)
    assert torch.allclose(combine(a1[:1], a2[:1]), b * 3 / (v1 * v2 / (1 - k)) + 1)


def test_etmc_loss_terms_kl_and_annealing() -> None:
    from engine.methods.etmc import adjusted_ce, annealing, evidential_loss, kl_to_uniform

    a = _alpha([2.0, 3.0, 1.5], [1.0, 1.0, 1.0])
    ref = torch.distributions.kl_divergence(torch.distributions.Dirichlet(a), torch.distributions.Dirichlet(torch.ones_like(a)))
    assert torch.allclose(kl_to_uniform(a), ref) and float(kl_to_uniform(a)[1]) == pytest.approx(0.0, abs=1e-12)
    y = torch.tensor([1])
    ce = [float(adjusted_ce(_alpha([2.0, v, 1.5]), y)) for v in (1.5, 3.0, 6.0)]
    assert all(c > 0 for c in ce) and ce[0] > ce[1] > ce[2]
    assert [annealing(t, 10) for t in (1, 2, 11, 30)] == [0.0, 0.1, 1.0, 1.0]
    s = 6.5  # psi(S) - psi(alpha_y) + lam KL(Dir(2, 1, 1.5)): the true class's evidence removed
    expected = (torch.digamma(torch.tensor(s)) - torch.digamma(torch.tensor(3.0))
                + 0.3 * kl_to_uniform(_alpha([2.0, 1.0, 1.5]))[0])
    assert float(evidential_loss(a[:1], y, 0.3)) == pytest.approx(float(expected))


def test_etmc_method_predicts_the_fused_expected_probability(tmp_path: Path) -> None:
    from engine.methods.etmc import evidential_loss
    from engine.models.evidential import combine

    t = trainer(tmp_path, "etmc", epochs=2)
    t.epoch = 2
    inputs, labels = batch(t, 16)
    c = ctx(t)
    out = t.method.forward(t.model, inputs, c)
    op = t.model.fusion.opinions(out.features)
    assert set(op) == {"pix", "mor", "pseudo", "fused"}
    assert torch.allclose(op["fused"], combine(combine(op["pix"], op["mor"]), op["pseudo"]))
    p = op["fused"] / op["fused"].sum(1, keepdim=True)
    assert torch.allclose(out.logits.softmax(1), p, atol=1e-6)
    terms = t.method.loss(out, labels, c)
    expected = sum(evidential_loss(a, labels, 0.1).mean() for a in op.values())  # lambda 0.1 at epoch 2
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


# ----------------------------------------------------------------------------- DOMFN

def test_domfn_penalty_and_the_two_modality_bound() -> None:
    from engine.models.divergence import Divergence

    q = torch.tensor([[[0.9, 0.2]], [[0.3, 0.4]], [[0.6, 0.9]]])  # 3 modalities, 1 sample
    qbar = torch.tensor([0.6, 0.5])
    expected = torch.tensor([max(0.3 ** 2, 0.3 ** 2), max(0.3 ** 2, 0.1 ** 2), max(0.0, 0.4 ** 2)])
    assert torch.allclose(Divergence.penalties(q)[:, 0], expected) and torch.allclose(q.mean(0)[0], qbar)
    f = Divergence(("a", "b"), 4, 5)
    pen = Divergence.penalties(torch.rand(2, 10000, 5))
    assert float(pen.max()) <= 0.25 and bool(f.agreement(pen).all())  # never routed with two modalities


def test_domfn_routes_diverging_samples_to_the_most_confident_modality() -> None:
    from engine.methods.domfn import domfn_loss
    from engine.models.divergence import Divergence

    torch.manual_seed(0)
    f = Divergence(("a", "b", "c"), 2, 2)
    with torch.no_grad():
        for m in "abc":
            f.heads[m].weight.copy_(torch.eye(2) * 8)
            f.heads[m].bias.fill_(-4.0)
    # sample 0: all agree; sample 1: a says class 0, b and c class 1 (a is the most confident)
    feats = {"a": torch.tensor([[1.0, 0.0], [1.2, 0.0]]), "b": torch.tensor([[1.0, 0.0], [0.0, 0.9]]),
             "c": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}
    q, q_f = f.probabilities(feats)
    pen = f.penalties(q)
    agree = f.agreement(pen)
    assert agree.tolist() == [True, False]
    logits = f(feats)
    assert torch.allclose(logits[0].exp(), q_f[0] / q_f[0].sum()) and torch.allclose(logits[1].exp(), q[0, 1] / q[0, 1].sum())
    labels = torch.tensor([0, 1])
    terms = domfn_loss(q, q_f, labels, agree, pen, eta=0.5)
    ce = torch.stack([F.cross_entropy(qj, labels, reduction="none") for qj in q])
    ce_f = F.cross_entropy(q_f, labels, reduction="none")
    l0 = (0.5 * ce[:, 0] ** 2 - 0.5 * pen[:, 0]).sum() + ce[:, 0].sum() + ce_f[0]
    assert terms["total"].item() == pytest.approx(((l0 + ce[:, 1].sum()) / 2).item(), rel=1e-6)
    terms["total"].backward()
    g = [p.grad.clone() for p in f.fused.parameters()]
    f.zero_grad()
    (F.cross_entropy(f.probabilities({m: x[:1] for m, x in feats.items()})[1], labels[:1]) / 2).backward()
    for g1, p in zip(g, f.fused.parameters()):  # the fused MLP learns from the agreeing sample only
        assert torch.allclose(g1, p.grad, atol=1e-7)


# ----------------------------------------------------------------------------- Greedy

def test_greedy_learning_speeds_and_imbalance_by_hand() -> None:
    from engine.methods.greedy import imbalance, speed

    w = torch.nn.Parameter(torch.full((2, 2), 2.0))
    w.grad = torch.full((2, 2), 0.1)
    v = torch.nn.Parameter(torch.ones(3))
    assert speed([w, v]) == pytest.approx(4 * 0.01 / (4 * 4 + 3))  # v without gradient counts zero
    main, byp = [0.2, 0.4], [0.02, 0.4]
    assert imbalance(main, byp) == pytest.approx(math.log10(0.1) - math.log10(1.0))


def test_greedy_groups_the_shared_squeeze_into_both_bypasses(tmp_path: Path) -> None:
    t = trainer(tmp_path, "greedy")
    block = t.model.intermediate.blocks[0]
    ids = [{id(p) for p in b} for b in t.method.bypass]
    shared = {id(p) for p in block.squeeze.parameters()}
    assert shared <= ids[0] and shared <= ids[1]
    assert {id(p) for p in block.excitation["pix"].parameters()} <= ids[0] - ids[1]
    assert {id(p) for p in t.model.fusion.heads["mor"].parameters()} <= {id(p) for p in t.method.main[1]}


def test_greedy_rebalances_for_a_window_after_an_imbalance(tmp_path: Path, monkeypatch) -> None:
    import engine.methods.greedy as greedy

    t = trainer(tmp_path, "greedy", "method.greedy.window=2", "method.greedy.start=2")
    script = iter([1.0, 1.0, 1.0, 1.0,   # epoch 1: d = 0 -> regular
                   1.0, 10.0, 1.0, 1.0,  # epoch 2: BDR_0 > BDR_1 -> care for pix
                   1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    monkeypatch.setattr(greedy, "speed", lambda params: next(script))
    modes = []
    for epoch, n in ((1, 1), (2, 4)):
        t.epoch = epoch
        for _ in range(n):
            modes.append(t.method.caring)
            t.method.on_after_backward(None, None, {}, ctx(t))
    # main 0 += 1, bypass 0 += 10 in epoch 2's first step -> d = log10(11/2) - log10(2/2) > 0.01
    assert modes == [None, None, "pix", "pix", None] and t.method.caring == "pix"  # the last step re-decided
    assert t.method.sums == {"main": [3.0, 3.0], "bypass": [12.0, 3.0]}  # no accumulation while caring


def test_greedy_caring_cuts_the_cross_modal_flow_into_that_branch(tmp_path: Path) -> None:
    t = trainer(tmp_path, "greedy", "model.encoders.pix.dropout=0", "model.encoders.mor.dropout=0")
    fusion = t.model.intermediate
    t.model.train()
    gates = []
    with torch.no_grad():
        for n in (8, 5):
            inputs, _ = batch(t, n)
            gates.append(fusion.blocks[0].gates(_hidden(t, inputs)))
            t.model(inputs)
        t.model.eval()
        t.model(inputs)  # evaluation leaves the averages alone
    avg = (gates[0]["pix"].mean(0) + gates[1]["pix"].mean(0)) / 2  # a running mean over the training forwards
    assert torch.allclose(fusion.avg_0_pix, avg, atol=1e-6) and int(fusion.avg_steps) == 2
    t.model.eval()
    fusion.caring = "pix"
    other = {**inputs, "mor": inputs["mor"] + 1.0}
    heads = lambda x: t.model.unimodal_logits(t.model(x).features)
    with torch.no_grad():
        a, b = heads(inputs), heads(other)
        c = heads({**inputs, "pix": inputs["pix"] + 1.0})
    fusion.caring = None
    assert torch.allclose(a["pix"], b["pix"]) and not torch.allclose(a["mor"], c["mor"])


def _hidden(t: Trainer, inputs: dict) -> dict:
    """Each MLP encoder's hidden layer output (the stage before the MMTM block)."""
    return {m: t.model.encoders[m].stages()[0](x) for m, x in inputs.items()}


# ----------------------------------------------------------------------------- MSES

def test_mses_smoothing_best_epoch_and_stop_on_a_synthetic_sequence() -> None:
    from engine.methods.mses import EarlyStopping

    es = EarlyStopping(("a", "b"), patience=2, smoothing=0.4)
    losses = [1.0, 0.8, 0.6, 0.5, 0.7, 0.9, 1.1]  # falls until epoch 4, then rises
    smoothed, stops = [], []
    for t, loss in enumerate(losses, 1):
        _, stop = es.update(t, {"a": loss, "b": 1.0 / t})
        smoothed.append(es.smoothed("a"))
        stops.append(stop)
    assert smoothed[:6] == pytest.approx([1.0, 0.92, 0.72, 0.56, 0.58, 0.78])  # 0.6 L(t-1) + 0.4 L(t)
    assert es.best["a"][0] == 4 and es.stopped == {"a": 7}  # 7 - 4 > patience 2
    assert stops == [[], [], [], [], [], [], ["a"]]


def test_mses_stops_a_modality_restores_its_best_parameters_and_freezes_it(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mses", "method.mses.patience=1", "optim.name=sgd", "optim.weight_decay=0.01")
    script = iter([{"pix": 1.0, "mor": 1.0}, {"pix": 0.5, "mor": 2.0}, {"pix": 0.4, "mor": 2.0}])
    t.method.validation_losses = lambda ctx: next(script)
    inputs, labels = batch(t)
    mor, pix = t.method.params["mor"], t.method.params["pix"]
    t.method.on_validation_end(t.ctx, 1)  # both improve: snapshots of epoch 1
    best_mor = snapshot(mor)
    for epoch in (2, 3):
        t.train_step(inputs, labels, 0.0)
        t.method.on_validation_end(t.ctx, epoch)
    assert t.method.stopping.stopped == {"mor": 3} and t.method.pending == ["mor"]
    assert not same(mor, best_mor)
    pix_before = snapshot(pix)
    t.train_step(inputs, labels, 0.0)  # restores mor at its forward, then freezes it
    assert same(mor, best_mor) and not same(pix, pix_before)
    for _ in range(3):
        t.train_step(inputs, labels, 0.0)
    assert same(mor, best_mor)  # momentum and weight decay do not move it
    terms = t.method.loss(t.model(inputs), labels, ctx(t))
    assert terms["total"].item() == pytest.approx((terms["cls"] + terms["uni_pix"] + terms["uni_mor"]).item(), rel=1e-6)


def test_mses_decides_on_the_validation_split(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mses")
    losses = t.method.validation_losses(t.ctx)
    t.model.eval()
    with torch.no_grad():
        f = t.model.encode(t.data.val.inputs)
        expected = F.cross_entropy(t.model.aux_heads["mor"](f["mor"]), t.data.val.labels)
    assert losses["mor"] == pytest.approx(float(expected), rel=1e-6)


# ----------------------------------------------------------------------------- MSLR

def test_mslr_dynamic_ratio_is_the_accuracy_over_its_window_mean() -> None:
    from engine.methods.mslr import dynamic_ratio

    acc = [0.5, 0.6, 0.55, 0.65, 0.7, 0.72]
    assert dynamic_ratio(acc[:5], 5) == 1.0
    assert dynamic_ratio(acc, 5) == pytest.approx(0.72 / (sum(acc[:5]) / 5))
    assert dynamic_ratio(acc + [0.6], 5) == pytest.approx(0.6 / (sum(acc[1:6]) / 5))


def test_mslr_group_rates_follow_the_schedule_times_each_factor(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mslr", "method.mslr.rates=[2.0,0.5]", "method.mslr.strategy=keep",
                "schedule.name=step", "schedule.step_size=1", "schedule.gamma=0.5", epochs=2)
    assert [g["name"] for g in t.optimizer.param_groups] == ["shared", "pix", "mor"]
    assert t.train() == "ok"
    t.train_step(*batch(t), 0.0)
    lr = t.optimizer.param_groups[0]["lr"]
    assert lr == pytest.approx(1e-3 * 0.25)  # two StepLR decays
    assert [g["lr"] for g in t.optimizer.param_groups[1:]] == pytest.approx([2.0 * lr, 0.5 * lr])


def test_mslr_under_adam_each_modality_moves_by_its_own_rate(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mslr", "method.mslr.rates=[2.0,0.5]", "method.mslr.strategy=keep", "optim.weight_decay=0")
    before = {m: snapshot(t.model.encoders[m].parameters()) for m in ("pix", "mor")}
    t.train_step(*batch(t), 0.0)
    step = {m: max(float((p.detach() - b).abs().max()) for p, b in zip(t.model.encoders[m].parameters(), before[m]))
            for m in ("pix", "mor")}
    # Adam's first step moves each weight by lr (|m / sqrt(v)| = 1): here lr * c_j; a scaled gradient would not
    assert step["pix"] == pytest.approx(2.0e-3, rel=1e-3) and step["mor"] == pytest.approx(0.5e-3, rel=1e-3)


def test_mslr_dynamic_factors_come_from_validation_accuracy(tmp_path: Path) -> None:
    t = trainer(tmp_path, "mslr", "method.mslr.window=1", "method.mslr.rates=[1.5,1.0]", epochs=2)
    assert t.train() == "ok"
    acc = t.method.accuracy
    assert len(acc["pix"]) == 2
    now = t.method.validation_accuracy(t.ctx)
    assert now["pix"] == pytest.approx(acc["pix"][-1])  # the model has not changed since epoch 2
    assert t.method.factors["pix"] == pytest.approx(1.5 * acc["pix"][1] / acc["pix"][0])


# ----------------------------------------------------------------------------- AGM

def _coalitions(f, xs: dict[str, torch.Tensor]) -> dict[frozenset, torch.Tensor]:
    import itertools

    mods = list(xs)
    return {frozenset(s): f({m: x if m in s else torch.zeros_like(x) for m, x in xs.items()})
            for k in range(1, len(mods) + 1) for s in itertools.combinations(mods, k)}


def test_agm_responses_are_efficient_and_exact_for_a_linear_fusion() -> None:
    from engine.methods.agm import shapley_responses

    torch.manual_seed(0)
    for mods in ("av", "avt"):
        xs = {m: torch.randn(4, 3) for m in mods}
        net = torch.nn.Sequential(torch.nn.Linear(3 * len(mods), 8), torch.nn.Tanh(), torch.nn.Linear(8, 5))
        f = lambda d: net(torch.cat([d[m] for m in mods], 1))
        values = _coalitions(f, xs)
        m = shapley_responses(values, tuple(mods))
        assert torch.allclose(sum(m.values()), f(xs), atol=1e-5)  # sum_j m_j = v(N)
        if mods == "av":
            a, v, av = values[frozenset("a")], values[frozenset("v")], values[frozenset("av")]
            assert torch.allclose(m["a"], (av - v + a) / 2, atol=1e-6)
    w = {m: torch.randn(5, 3) for m in "avt"}
    b = torch.randn(5)
    xs = {m: torch.randn(4, 3) for m in "avt"}
    m = shapley_responses(_coalitions(lambda d: sum(d[k] @ w[k].T for k in "avt") + b, xs), ("a", "v", "t"))
    for k in "avt":
        assert torch.allclose(m[k], xs[k] @ w[k].T + b / 3, atol=1e-5)


def test_agm_coefficients_by_hand_direction_and_clip() -> None:
    from engine.methods.agm import coefficients

    k = coefficients({"a": 0.7, "v": 1.2}, {"a": 0.0, "v": 0.0}, alpha=1.0)  # first step: opt = 1
    assert k["a"] == pytest.approx(math.exp(1 - math.exp(1.2 - 0.7)))
    assert k["v"] == pytest.approx(math.exp(1 - math.exp(0.7 - 1.2)))
    assert k["a"] < 1 < k["v"]  # a is ahead of its running balance: slowed
    k2 = coefficients({"a": 0.6, "v": 1.0}, {"a": 0.7, "v": 1.2}, alpha=0.5)
    assert k2["a"] == pytest.approx(math.exp(0.5 * (math.exp(1.2 - 0.7) - math.exp(1.0 - 0.6))))
    three = coefficients({"a": 1.0, "v": 1.0, "t": 1.0}, {"a": 9.0, "v": 0.0, "t": 0.0}, alpha=1.0)
    assert three["v"] == pytest.approx(math.exp(min(math.exp(1.5 * 3.0) - 1.0, 7.0)))  # clipped at 7


def test_agm_modulates_each_responses_gradient() -> None:
    from engine.methods.agm import GradScale, shapley_responses

    torch.manual_seed(0)
    values = {frozenset(s): torch.randn(3, 4, requires_grad=True) for s in ("a", "v", "av")}
    labels = torch.tensor([0, 2, 1])
    ka, kv = 0.6, 1.5
    m = shapley_responses(values, ("a", "v"))
    o = GradScale.apply(m["a"], ka) + GradScale.apply(m["v"], kv)
    F.cross_entropy(o, labels).backward()
    g = (torch.softmax(o, 1) - F.one_hot(labels, 4)) / 3  # dL/do
    assert torch.allclose(values[frozenset("av")].grad, (ka + kv) / 2 * g, atol=1e-6)
    assert torch.allclose(values[frozenset("a")].grad, (ka - kv) / 2 * g, atol=1e-6)
    assert torch.allclose(values[frozenset("v")].grad, (kv - ka) / 2 * g, atol=1e-6)


def test_agm_method_on_mfeat(tmp_path: Path) -> None:
    from engine.methods.agm import coefficients

    t = trainer(tmp_path, "agm", "model.encoders.pix.dropout=0", "model.encoders.mor.dropout=0")
    inputs, labels = batch(t)
    c = ctx(t)
    out = t.method.forward(t.model, inputs, c)
    assert t.model.training and torch.allclose(sum(out.responses.values()), out.logits, atol=1e-5)
    with torch.no_grad():
        pad = t.model.eval()({"pix": inputs["pix"], "mor": torch.zeros_like(inputs["mor"])}).logits
    t.model.train()
    scores = {m: float(F.cross_entropy(r.detach(), labels)) for m, r in out.responses.items()}
    terms = t.method.loss(out, labels, c)
    assert {m: float(terms[f"score_{m}"]) for m in scores} == pytest.approx(scores, rel=1e-6)
    assert t.method.running == {"pix": 0.0, "mor": 0.0}  # the loss reads the method's state, never changes it
    with torch.no_grad():
        only_mor = t.model({"pix": torch.zeros_like(inputs["pix"]), "mor": inputs["mor"]}).logits
    assert torch.allclose(out.responses["pix"], (out.logits - only_mor + pad) / 2, atol=1e-5)  # inputs zeroed
    t.optimizer.zero_grad()
    t.method.backward(terms, c)
    with torch.no_grad():
        t.model.fusion.head.weight.grad[0, 0] = 5.0  # out of [-1, 1]: every gradient clipped to norm 1
    t.method.on_after_backward(out, labels, terms, c)
    assert t.method.last_coefficients == pytest.approx(coefficients(scores, {"pix": 0, "mor": 0}, 1.0), rel=1e-5)
    assert t.method.running == pytest.approx(scores, rel=1e-6)
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in t.model.parameters() if p.grad is not None))
    assert float(norm) == pytest.approx(1.0, rel=1e-4)


# ----------------------------------------------------------------------------- ReconBoost

def test_reconboost_boosting_loss_and_its_gradient() -> None:
    from engine.methods.reconboost import boosting_loss

    torch.manual_seed(0)
    logits = torch.randn(4, 3, requires_grad=True)
    others, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    loss = boosting_loss(logits, others, labels, w1=5.0, w2=1.0)
    p_o = torch.softmax(others, 1)[torch.arange(4), labels]
    p = torch.softmax(logits, 1)
    expected = ((p_o - 5.0) * torch.log(p[torch.arange(4), labels])).mean() / 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    grad = (5.0 - p_o)[:, None] * (p - F.one_hot(labels, 3)) / 3 / 4
    assert torch.allclose(logits.grad, grad.detach(), atol=1e-6)


def test_reconboost_schedule_cycles_modalities_and_phases() -> None:
    from engine.methods.reconboost import schedule

    got = [schedule(t, ("a", "b", "c"), 2, 1) for t in range(1, 10)]
    assert got == [(0, "boost", "a"), (0, "boost", "a"), (0, "rectify", "a"), (1, "boost", "b"), (1, "boost", "b"),
                   (1, "rectify", "b"), (2, "boost", "c"), (2, "boost", "c"), (2, "rectify", "c")]
    assert [schedule(t, ("a", "b"), 1, 0)[2] for t in range(1, 5)] == ["a", "b", "a", "b"]


def test_reconboost_boosting_trains_one_encoder_and_the_head(tmp_path: Path) -> None:
    t = trainer(tmp_path, "reconboost", "optim.name=sgd", "optim.weight_decay=0.01",
                "method.reconboost.boost_epochs=1", "method.reconboost.rectify_epochs=1", epochs=3)
    fusion = t.model.fusion
    assert fusion.members.tolist() == [1.0, 0.0]  # epoch 1: only pix's learner in the ensemble
    inputs, labels = batch(t)
    t.model.eval()
    with torch.no_grad():
        out = t.model(inputs)
        assert torch.allclose(out.logits, fusion.beta * fusion.head(out.features["pix"]))
    mor_before, beta_before = snapshot(t.model.encoders["mor"].parameters()), fusion.beta.detach().clone()
    head_before = snapshot(fusion.head.parameters())
    t.train_step(inputs, labels, 0.0)
    assert same(t.model.encoders["mor"].parameters(), mor_before) and torch.equal(fusion.beta.detach(), beta_before)
    assert not same(fusion.head.parameters(), head_before)
    assert all(p.grad is None for p in t.model.encoders["mor"].parameters()) and fusion.beta.grad is None
    assert t.optimizer.state  # momentum built up in the boosting phase ...
    t.method.on_validation_end(t.ctx, 1)
    assert not t.optimizer.state  # ... is cleared when rectification begins
    t.epoch = 3  # stage 1 boosts mor; both learners in the ensemble
    t.method.on_train_epoch_start(t.ctx, 3)
    t.train_step(inputs, labels, 0.0)
    assert fusion.members.tolist() == [1.0, 1.0]
    assert all(p.grad is None for p in t.model.encoders["pix"].parameters())


def test_reconboost_rectification_trains_everything_on_the_ensemble(tmp_path: Path) -> None:
    t = trainer(tmp_path, "reconboost", "method.reconboost.boost_epochs=1", "method.reconboost.rectify_epochs=1",
                epochs=4)
    t.epoch = 4  # stage 1, rectification
    t.method.on_train_epoch_start(t.ctx, 4)
    inputs, labels = batch(t)
    c = ctx(t)
    out = t.method.forward(t.model, inputs, c)
    f = t.model.fusion
    assert torch.allclose(out.logits, f.beta * (f.head(out.features["pix"]) + f.head(out.features["mor"])), atol=1e-6)
    t.optimizer.zero_grad()
    terms = t.method.loss(out, labels, c)
    t.method.backward(terms, c)
    t.method.on_after_backward(out, labels, terms, c)
    assert f.beta.grad is not None and all(p.grad is not None for m in ("pix", "mor")
                                           for p in t.model.encoders[m].parameters())


@pytest.mark.parametrize("mode", ["none", "current"])
def test_reconboost_reconcilement_term_acts_only_with_a_gradient(tmp_path: Path, mode: str) -> None:
    t = trainer(tmp_path, "reconboost", f"method.reconboost.ga_grad={mode}", "method.reconboost.boost_epochs=1",
                "method.reconboost.rectify_epochs=0", "model.encoders.mor.dropout=0",
                "model.encoders.pix.dropout=0", epochs=2)
    t.epoch = 2  # stage 1: mor, against the previous stage's learner (pix)
    t.method.on_train_epoch_start(t.ctx, 2)
    inputs, labels = batch(t)
    c = ctx(t)
    w = t.model.encoders["mor"].net[0].weight

    def grad(with_term: bool):
        out = t.method.forward(t.model, inputs, c)
        terms = t.method.loss(out, labels, c)
        loss = terms["total"] if with_term else terms["boost"]
        return torch.autograd.grad(loss, w)[0], terms

    g_with, terms = grad(True)
    g_without, _ = grad(False)
    assert terms["reconcile"].item() > 0
    assert torch.equal(g_with, g_without) == (mode == "none")


# ----------------------------------------------------------------------------- recipes

@pytest.mark.parametrize("overrides,message", [
    (["method.name=greedy", "data.modalities=[pix,mor,fou]"], "method.name: 'greedy' fuses exactly two"),
    (["method.name=mses", "method.mslr.window=3"], "method.mslr: method 'mses' does not take it (taken by 'mslr')"),
    (["method.name=mmtm", "method.greedy.window=3"], "method.greedy: method 'mmtm' does not take it"),
    (["method.name=etmc", "method.etmc.anealing=3"], "method.etmc.anealing: unknown key (did you mean"),
    (["method.name=mslr", "method.mslr.rates=[1.0]"], "method.mslr.rates: expected one learning-rate factor"),
    (["method.name=agm", "method.agm.pad=inputs"], "method.agm.pad: expected one of 'input', 'feature'"),
    (["method.name=mmtm", "model.encoders.pix.kind=text_bow"], "model.encoders.pix.kind: 'mmtm' fuses between"),
    (["method.name=greedy", "model.encoders.mor.kind=bert"], "model.encoders.mor.kind: 'greedy' fuses between"),
])
def test_baseline_recipe_errors_are_clear(overrides: list[str], message: str) -> None:
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(RECIPES / "mfeat.toml", overrides)
    assert any(p.startswith(message) for p in info.value.problems), info.value.problems


def test_greedy_takes_the_mmtm_keys(tmp_path: Path) -> None:
    r = recipes.load(RECIPES / "mfeat.toml", ["method.name=greedy", "method.mmtm.ratio=2", "method.greedy.window=3"])
    assert recipes.to_dict(r)["method"] == {"name": "greedy", "mmtm": {"ratio": 2, "stages": 3, "gate": "sigmoid"},
                                            "greedy": {"epsilon": 0.01, "window": 3, "start": 2}}


# ----------------------------------------------------------------------------- resume

@pytest.mark.slow
@pytest.mark.parametrize("method,extra", [
    ("mses", ["method.mses.patience=1"]),
    ("mslr", ["method.mslr.window=1"]),
    ("agm", []),
    ("greedy", ["method.greedy.start=1"]),
    ("mmtm", []),
    ("reconboost", ["method.reconboost.boost_epochs=1", "method.reconboost.rectify_epochs=1"]),
])
def test_resume_equals_uninterrupted_with_baseline_state(tmp_path: Path, method: str, extra: list[str]) -> None:
    full, resumed = stopped_and_resumed(tmp_path, [f"method.name={method}", "data.batch_size=256", *extra])
    assert resumed["test"] == pytest.approx(full["test"], rel=1e-6)


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("method,extra", [
    ("mses", ["method.mses.patience=1"]), ("mslr", ["method.mslr.window=1"]), ("agm", []),
    ("greedy", ["method.greedy.start=1"]),
])
def test_baseline_state_survives_a_checkpoint(tmp_path: Path, method: str, extra: list[str]) -> None:
    from engine.training import checkpoint as ckpt
    t = trainer(tmp_path / "a", method, "data.batch_size=256", *extra, epochs=2)
    assert t.train() == "ok"
    state = t.method.state_dict()
    assert any(v for v in state.values())  # it holds something
    ckpt.save(t.state_dict(), tmp_path / "c.pt")
    r = recipes.load(RECIPES / "mfeat.toml", [f"method.name={method}", "train.epochs=2", "data.batch_size=256", *extra])
    fresh = build_trainer(r, tmp_path / "b", Emitter([]), resume_state=ckpt.load(tmp_path / "c.pt"))
    assert _equal(fresh.method.state_dict(), state)
