"""The learned alpha's hypergradient against the exact derivative of a problem whose inner
problem is solved exactly; the released code's `official` quantity; clipping, decay, resume."""
from __future__ import annotations

import io
import json
import math
import types
from pathlib import Path

import pytest
import torch

from engine.alpha.strategies import build_strategy
from engine.alpha.hypergrad import hypergradient

D = torch.float64  # exact enough for a 1e-4 comparison with finite differences
N = 12


def spd(seed: int, lo: float, hi: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(N, N, generator=g, dtype=D))
    return q @ torch.diag(torch.linspace(lo, hi, N, dtype=D)) @ q.T


A, C, E = spd(0, 0.5, 4.0), spd(1, 0.2, 3.0), spd(2, 0.5, 2.0)
g = torch.Generator().manual_seed(3)
a, c, e = (torch.randn(N, generator=g, dtype=D) for _ in range(3))


def quad(M, center, x):
    d = x - center
    return 0.5 * d @ M @ d


def train_losses(ps):
    (x,) = ps
    return quad(A, a, x), quad(C, c, x)      # L_CLS^tr, L_MM^tr


def val_loss(ps):
    return quad(E, e, ps[0])                 # L_CLS^val


def theta_star(alpha: float) -> torch.Tensor:
    """argmin (1 - alpha) L_CLS^tr + alpha L_MM^tr, exactly."""
    H = (1 - alpha) * A + alpha * C
    return torch.linalg.solve(H, (1 - alpha) * A @ a + alpha * C @ c)


def F(alpha: float) -> float:
    return float(quad(E, e, theta_star(alpha)))


@pytest.mark.parametrize("alpha", [0.2, 0.6])
@pytest.mark.parametrize("hvp_mode", ["double_backward", "forward_over_reverse"])
def test_cg_to_convergence_equals_finite_differences(alpha: float, hvp_mode: str) -> None:
    h = 1e-5
    fd = (F(alpha + h) - F(alpha - h)) / (2 * h)
    res = hypergradient("cg", train_losses, val_loss, (theta_star(alpha),), alpha, terms=3 * N,
                        damping=0.0, hvp_mode=hvp_mode)
    assert abs(res.value - fd) / abs(fd) < 1e-4, (res.value, fd)
    assert res.residual < 1e-5  # CG stops at a relative residual of 1e-6


def test_neumann_with_enough_terms_within_one_percent() -> None:
    alpha = 0.4
    fd = (F(alpha + 1e-5) - F(alpha - 1e-5)) / 2e-5
    # H's eigenvalues lie in about [0.3, 3.6]: step 0.25 keeps (I - step H) contracting
    res = hypergradient("neumann", train_losses, val_loss, (theta_star(alpha),), alpha, terms=200, step=0.25)
    assert abs(res.value - fd) / abs(fd) < 1e-2, (res.value, fd)
    assert res.hvps == 200 and res.terms == 200
    few = hypergradient("neumann", train_losses, val_loss, (theta_star(alpha),), alpha, terms=2, step=0.25)
    assert abs(few.value - fd) / abs(fd) > 1e-2  # the truncation is real, not an exact solve


def test_neumann_stops_where_the_series_diverges() -> None:
    alpha = 0.4
    # step 1.0 > 2 / lambda_max: (I - H) has eigenvalues below -1 and the terms grow
    res = hypergradient("neumann", train_losses, val_loss, (theta_star(alpha),), alpha, terms=50, step=1.0)
    assert res.terms < 50 and abs(res.value) < 1e3


def test_identity_is_the_first_order_value() -> None:
    alpha = 0.3
    x = theta_star(alpha)
    g_val = E @ (x - e)
    b = C @ (x - c) - A @ (x - a)
    res = hypergradient("identity", train_losses, val_loss, (x,), alpha)
    assert res.value == pytest.approx(float(-(g_val @ b)), rel=1e-12)
    assert res.hvps == 0


def test_official_is_the_mean_of_the_first_tensor_of_H_times_grad_cls() -> None:
    """What the released code computes, on a tiny two-tensor model, recomputed directly."""
    torch.manual_seed(0)
    w1, w2 = torch.randn(3, 4, dtype=D), torch.randn(2, 3, dtype=D)
    x, y = torch.randn(8, 4, dtype=D), torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    alpha = 0.95

    def losses(ps):
        p1, p2 = ps
        h = torch.tanh(x @ p1.T)
        logits = h @ p2.T
        l_cls = torch.nn.functional.cross_entropy(logits, y)
        l_mm = (h ** 2).mean() + (p2 ** 2).sum() * 0.1
        return l_cls, l_mm

    res = hypergradient("official", losses, None, (w1, w2), alpha)

    # direct: the full Hessian of L_tr over both tensors, times the full grad of L_CLS
    flat = torch.cat([w1.flatten(), w2.flatten()])

    def unflat(v):
        return v[:12].reshape(3, 4), v[12:].reshape(2, 3)

    def l_tr(v):
        l_cls, l_mm = losses(unflat(v))
        return (1 - alpha) * l_cls + alpha * l_mm

    H = torch.autograd.functional.hessian(l_tr, flat)
    g_cls = torch.autograd.functional.jacobian(lambda v: losses(unflat(v))[0], flat)
    expected = (H @ g_cls)[:12].mean()
    assert res.value == pytest.approx(float(expected), rel=1e-10)
    assert res.hvps == 1


# the learned alpha's options before the evidence-sized step (Adam 0.1 on alpha, 2 estimates of 1 batch),
# named where a test pins what that step does
OLD_DEFAULT = ["alpha.optimizer=adam", "alpha.lr=0.1", "alpha.horizon=0", "alpha.space=linear", "alpha.estimates=2",
               "alpha.val_batches=1", "alpha.train_batches=1", "alpha.terms=20", "alpha.batch_size=0"]


def learned(**kw):
    base = dict(strategy="learned", initial=0.5, lr=0.1, lr_decay=0.5, lr_decay_every=2, clip=(0.05, 0.95),
                update_every=0, hypergradient="neumann", value=0.5, coefficients=(), optimizer="sgd",
                betas=(0.5, 0.9), evidence=(2.0, 4.0), horizon=0.0, space="linear")
    return build_strategy(types.SimpleNamespace(**{**base, **kw}), 10)


def test_update_clips_and_decays_its_learning_rate() -> None:
    s = learned()
    assert [s.lr_at(t) for t in (1, 2, 3, 4, 5)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert s.apply(1.0, 1) == pytest.approx(0.4)       # 0.5 - 0.1 * 1
    assert s.apply(1.0, 3) == pytest.approx(0.35)      # decayed: 0.4 - 0.05
    assert s.apply(-100.0, 3) == 0.95                  # clipped high
    assert s.apply(100.0, 5) == 0.05                   # clipped low
    restored = learned()
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert restored.value(6) == 0.05 and restored.updates == 4


# ----------------------------------------------------------------------------- on the engine

def _trainer(tmp_path: Path, tiny_mfeat: Path, overrides: list[str]):
    from engine.contract import recipe as recipes
    from engine.contract.events import Emitter
    from engine.setup import build_trainer

    recipe = recipes.load(tiny_mfeat, ["alpha.strategy=learned", *overrides])
    seen = io.StringIO()
    trainer = build_trainer(recipe, tmp_path, Emitter([seen]))
    return trainer, seen


@pytest.mark.parametrize("params", ["all", "last"])
@pytest.mark.parametrize("method", ["neumann", "cg", "identity", "official"])
def test_hypergradient_never_reads_the_test_split(tmp_path, tiny_mfeat, params, method) -> None:
    trainer, _ = _trainer(tmp_path, tiny_mfeat, [f"alpha.params={params}", f"alpha.hypergradient={method}",
                                                 *OLD_DEFAULT])
    for x in trainer.data.test.inputs.values():
        x.fill_(float("nan"))  # any use of test data would turn the hypergradient into NaN
    before = {n: p.clone() for n, p in trainer.model.state_dict().items()}
    rng = torch.get_rng_state()
    update = trainer.alpha.on_validation_end(trainer.ctx, 1)
    assert update is not None and math.isfinite(update["hypergradient"])
    assert update["method"] == method and update["alpha"] != 0.5 or update["hypergradient"] == 0
    # the model, its buffers (batch-norm statistics) and the RNG are left as they were
    after = trainer.model.state_dict()
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert torch.equal(rng, torch.get_rng_state())
    assert trainer.model.training


def test_last_layers_agree_with_all_parameters_restricted_to_them(tmp_path, tiny_mfeat) -> None:
    """params=last (cached encoder forward) equals the generic functional path on the same subset."""
    from engine.alpha.bilevel import ModelHypergradient

    trainer, _ = _trainer(tmp_path, tiny_mfeat, ["alpha.params=last", "alpha.hypergradient=cg"])
    fast = ModelHypergradient(trainer.ctx)(0.3, 1)
    slow = ModelHypergradient(trainer.ctx)
    slow.cfg = type(slow.cfg)(**{**slow.cfg.__dict__, "hvp": "forward_over_reverse"})
    ref = slow(0.3, 1)
    assert fast["params"] == ref["params"] < sum(p.numel() for p in trainer.model.parameters())
    assert fast["hypergradient"] == pytest.approx(ref["hypergradient"], rel=1e-4, abs=1e-7)


def updates_after_a_stop_in_epoch_2(args: list[str], tmp_path) -> list[dict]:
    """The alpha_updated events of a run of `args` stopped (SIGINT) in epoch 2, then resumed."""
    import signal
    import subprocess
    import sys

    from conftest import events_of, only_run_dir, run_engine
    proc = subprocess.Popen([sys.executable, "-m", "engine", *args, "--runs-dir", str(tmp_path / "cut")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if '"type":"step"' in line and '"epoch":2' in line:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    res = run_engine(["--resume", str(only_run_dir(tmp_path / "cut"))], tmp_path)
    assert res.returncode == 0, res.stderr
    return [e for e in events_of(res.stdout) if e["type"] == "alpha_updated"]


@pytest.mark.slow
def test_learned_run_emits_updates_and_tensorboard_and_resumes_the_same_trajectory(tmp_path, tiny_mfeat) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from conftest import events_of, only_run_dir, run_engine
    from engine.contract import layout
    args = [str(tiny_mfeat), "alpha.strategy=learned", *OLD_DEFAULT, "alpha.hypergradient=neumann", "alpha.terms=5",
            "alpha.neumann_step=0.01", "alpha.estimates=1", "train.epochs=3", "data.batch_size=8",
            "train.log_every=1"]
    full = run_engine([*args, "--runs-dir", str(tmp_path / "full")], tmp_path)
    assert full.returncode == 0, full.stderr
    ups = [e for e in events_of(full.stdout) if e["type"] == "alpha_updated"]
    assert [u["epoch"] for u in ups] == [1, 2, 3]
    assert all(u["method"] == "neumann" and u["seconds"] >= 0 and u["hvps"] == 5 for u in ups)
    # how the solver did: the series' own residual, no damping, one estimate (no spread)
    assert all(0 <= u["residual"] and u["damping"] == 0 and u["spread"] == 0 and u["estimates"] == 1
               and u["optimizer"] == "adam" for u in ups)
    steps = [e for e in events_of(full.stdout) if e["type"] == "step"]
    # alpha is fixed within an epoch and moves between epochs by the update
    assert {s["alpha"] for s in steps if s["epoch"] == 2} == {ups[0]["alpha"]}
    acc = EventAccumulator(str(layout.tensorboard_dir(only_run_dir(tmp_path / "full"))))
    acc.Reload()
    assert {"train/alpha", "train/hypergradient"} <= set(acc.Tags()["scalars"])
    assert [s.value for s in acc.Scalars("train/hypergradient")] == pytest.approx([u["hypergradient"] for u in ups])

    resumed = updates_after_a_stop_in_epoch_2(args, tmp_path)
    assert [u["alpha"] for u in resumed] == pytest.approx([u["alpha"] for u in ups[1:]], rel=1e-9)


@pytest.mark.slow
def test_update_every_n_steps(tmp_path, tiny_mfeat) -> None:
    from conftest import events_of, run_engine

    res = run_engine([str(tiny_mfeat), "alpha.strategy=learned", "alpha.update_every=10",
                      "alpha.hypergradient=identity", "--runs-dir", str(tmp_path / "r")], tmp_path)
    assert res.returncode == 0, res.stderr
    ups = [e for e in events_of(res.stdout) if e["type"] == "alpha_updated"]
    assert [u["step"] for u in ups] == [10, 20, 30, 40]  # 22 steps an epoch, 2 epochs


# ----------------------------------------------------------------------------- the step on alpha

def test_adam_step_is_scale_free_and_moves_lr_per_update_on_a_steady_sign() -> None:
    """The same hypergradients at 1e-5 and at 1 times their size move alpha alike; a steady sign
    moves it by lr each update, against the hypergradient's sign."""
    grads = [0.3, 0.25, 0.4, 0.1, 0.35]
    runs = []
    for scale in (1.0, 1e-5):
        s = learned(optimizer="adam", lr=0.05, lr_decay=1.0, lr_decay_every=0, clip=(0.0, 1.0))
        runs.append([s.apply(g * scale, 1) for g in grads])
    assert runs[0] == pytest.approx(runs[1], rel=1e-9, abs=1e-12)
    assert runs[0][0] == pytest.approx(0.45, abs=1e-12)          # first step: exactly lr
    steps = [a - b for a, b in zip([0.5, *runs[0][:-1]], runs[0])]
    assert all(0.02 < d < 0.06 for d in steps)                   # down, about lr each
    # the raw step of the released code scales with the hypergradient
    sgd = [learned(optimizer="sgd", lr=0.1, lr_decay=1.0).apply(0.3 * scale, 1) for scale in (1.0, 1e-5)]
    assert sgd[0] == pytest.approx(0.47) and sgd[1] == pytest.approx(0.5 - 3e-7)


def test_sign_step_and_the_adam_state_survive_a_checkpoint() -> None:
    s = learned(optimizer="sign", lr=0.05, lr_decay=1.0)
    assert s.apply(-7.0, 1) == pytest.approx(0.55) and s.apply(1e-9, 1) == pytest.approx(0.5)
    a = learned(optimizer="adam", lr=0.05, lr_decay=1.0)
    for g in (0.3, -0.1, 0.2):
        a.apply(g, 1)
    b = learned(optimizer="adam", lr=0.05, lr_decay=1.0)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert [a.apply(g, 2) for g in (0.05, -0.4)] == [b.apply(g, 2) for g in (0.05, -0.4)]


@pytest.mark.slow
def test_old_default_learned_alpha_moves_against_the_hypergradient_on_mfeat(tmp_path, tiny_mfeat) -> None:
    """With the old defaults (cg, Adam, lr 0.1, 2 estimates), every update moves alpha by about
    lr, the first by exactly lr against the sign of dF/dalpha, and the solver's report is in each
    event."""
    from conftest import events_of, run_engine

    res = run_engine([str(tiny_mfeat), "alpha.strategy=learned", *OLD_DEFAULT, "train.epochs=3",
                      "--runs-dir", str(tmp_path / "r")], tmp_path)
    assert res.returncode == 0, res.stderr
    ups = [e for e in events_of(res.stdout) if e["type"] == "alpha_updated"]
    assert len(ups) == 3 and all(u["method"] == "cg" and u["optimizer"] == "adam" for u in ups)
    first = ups[0]
    assert abs(first["alpha"] - first["previous"]) == pytest.approx(0.1, abs=1e-9)
    assert (first["alpha"] - first["previous"]) * first["hypergradient"] < 0
    assert all(abs(u["alpha"] - u["previous"]) <= 2 * 0.1 for u in ups)  # Adam: |m| / sqrt(v) < 1.6 here
    assert all(u["estimates"] == 2 and u["spread"] >= 0 and 0 <= u["residual"] <= 1 and u["damping"] >= 0
               and isinstance(u["negative_curvature"], bool) and u["hvps"] > 0 for u in ups)


@pytest.mark.slow
def test_default_learned_alpha_steps_by_its_evidence_on_mfeat(tmp_path, tiny_mfeat) -> None:
    """With the defaults (cg, 4 estimates, the snr step with a horizon) each update reports its
    estimates' t statistic and sign agreement and the pooled evidence the step saw, and alpha
    moves by lr * clip((|evidence| - 2) / 2, 0, 1) against the evidence's sign (within the clip)."""
    from conftest import events_of, run_engine
    from engine.contract.schema import AlphaConfig

    cfg = AlphaConfig()
    assert (cfg.optimizer, cfg.space, cfg.estimates, cfg.val_batches) == ("snr", "linear", 4, 4)
    assert 0 < cfg.horizon < 1
    res = run_engine([str(tiny_mfeat), "alpha.strategy=learned", "train.epochs=3", "--runs-dir", str(tmp_path / "r")],
                     tmp_path)
    assert res.returncode == 0, res.stderr
    ups = [e for e in events_of(res.stdout) if e["type"] == "alpha_updated"]
    assert len(ups) == 3 and all(u["optimizer"] == "snr" and u["estimates"] == 4 for u in ups)
    lo, hi = cfg.evidence
    for u in ups:
        assert isinstance(u["agree"], bool) and u["t"] == pytest.approx(u["hypergradient"] * 2 / u["spread"])
        strength = min(1.0, max(0.0, (abs(u["evidence"]) - lo) / (hi - lo)))
        expected = u["previous"] - math.copysign(cfg.lr * strength, u["evidence"])
        assert u["alpha"] == pytest.approx(min(1.0, max(0.0, expected)), abs=1e-12)
    assert ups[0]["evidence"] == pytest.approx(ups[0]["t"])  # the horizon holds one update at first
    assert any(u["alpha"] != u["previous"] for u in ups)


@pytest.mark.slow
def test_a_resumed_run_follows_the_default_steps_trajectory(tmp_path, tiny_mfeat) -> None:
    """The snr step with a horizon: a run stopped in epoch 2 and resumed makes the same updates
    (the horizon's sums come back from the checkpoint with alpha)."""
    from conftest import events_of, run_engine
    args = [str(tiny_mfeat), "alpha.strategy=learned", "alpha.hypergradient=identity", "alpha.horizon=0.5",
            "alpha.evidence=[0,1]", "train.epochs=3", "data.batch_size=8", "train.log_every=1"]
    full = run_engine([*args, "--runs-dir", str(tmp_path / "full")], tmp_path)
    assert full.returncode == 0, full.stderr
    ups = [e for e in events_of(full.stdout) if e["type"] == "alpha_updated"]
    assert [u["optimizer"] for u in ups] == ["snr"] * 3 and len({u["alpha"] for u in ups}) == 3
    resumed = updates_after_a_stop_in_epoch_2(args, tmp_path)
    assert [(u["alpha"], u["evidence"]) for u in resumed] == pytest.approx(
        [(u["alpha"], u["evidence"]) for u in ups[1:]], rel=1e-9)
