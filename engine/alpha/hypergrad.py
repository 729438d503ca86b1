"""The hypergradient of the learned alpha (the paper's eq. 2 and 3).

    inner:  theta*(alpha) = argmin_theta L_tr(theta, alpha),  L_tr = (1 - alpha) L_CLS^tr + alpha L_MM^tr
    outer:  F(alpha) = L_CLS^val(theta*(alpha))
    dF/dalpha = - g_val^T H^-1 b,   H = d2 L_tr / dtheta2,  g_val = dL_CLS^val/dtheta,
                                    b = d/dalpha dL_tr/dtheta = dL_MM^tr/dtheta - dL_CLS^tr/dtheta

H^-1 g_val is approximated with Hessian-vector products, never a materialised Hessian:
`neumann` (Lorraine et al., 2020), `cg` (conjugate gradient on the damped system), `identity`
(H ~ I, first order), and `official`, the released code's heuristic (mean of one parameter
tensor's entries of H g_cls, no inverse, no b), kept to reproduce its numbers.

The solvers (engine/alpha/krylov.py) take their scale from H and say how they did (`HyperResult`).
`cg` with automatic damping runs Lanczos from g_val and solves the projected system: the Ritz
values show whether H is positive definite on the Krylov space; where it is not, the damping is
lambda = REL_DAMPING * |theta|_max - theta_min (where it is, no damping and no bias); the result
is the CG iterate on H + lambda I, with its residual, and never one whose relative residual
exceeds 1 (fallback: g_val / |theta|_max). With a given damping, CG runs on H + lambda I and
raises lambda (Levenberg-Marquardt) when it meets non-positive curvature. `neumann` steps by
1 / lambda_max (a Lanczos estimate).

Everything here works on closures of a tuple of parameter tensors, so the same code serves the
trainer (closures over `torch.func.functional_call`) and small problems solved exactly in tests.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

from engine.alpha.krylov import (CG_RESTARTS, NEUMANN_STEP, REL_DAMPING, SPECTRUM_ITERS, Spectrum, _dot, damped_cg,
                           lanczos, lanczos_cg, lanczos_start, neumann_inverse)

Params = tuple[torch.Tensor, ...]
TrainLosses = Callable[[Params], tuple[torch.Tensor, torch.Tensor]]  # params -> (L_CLS^tr, L_MM^tr)
ValLoss = Callable[[Params], torch.Tensor]                            # params -> L_CLS^val
Vec = list[torch.Tensor]

NAN = float("nan")


@dataclass
class HyperResult:
    value: float                     # dF/dalpha (for official: the released code's quantity)
    hvps: int                        # all Hessian-vector products (spectrum, solver, residual)
    residual: float                  # ||(H + damping I) v - g_val|| / ||g_val|| of the v used (nan: identity, official)
    terms: int = 0                   # Neumann terms summed / CG iterations of the last attempt
    damping: float = NAN             # lambda of the system solved (neumann: 0)
    step: float = NAN                # Neumann step
    negative_curvature: bool = False  # CG met p^T (H + lambda I) p <= 0, or the estimate found lambda_min < 0
    fallback: str | None = None      # "identity": v = g_val / lambda_max replaced CG's iterate
    lambda_max: float = NAN          # estimates (Ritz values); nan where not computed
    lambda_min: float = NAN          # (cg: also the lowest curvature p^T H p / p^T p it met)

    def as_dict(self) -> dict:
        """The fields as JSON-safe Python scalars; non-finite floats become None."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}


class HessianOperator:
    """v -> H v for H the Hessian of L_tr(theta, alpha) at `params`.

    `double_backward`: one graph of dL_tr/dtheta kept, each product a backward through it.
    `forward_over_reverse`: torch.func.jvp of torch.func.grad (no graph kept between products).
    Also gives the gradients dL_CLS^tr/dtheta and dL_MM^tr/dtheta, from which b is formed."""

    def __init__(self, train_losses: TrainLosses, params: Params, alpha: float, mode: str = "double_backward"):
        self.mode, self.alpha, self.count = mode, alpha, 0
        self.params = tuple(p.detach() for p in params)
        if mode == "double_backward":
            self.leaves = tuple(p.detach().requires_grad_(True) for p in params)
            l_cls, l_mm = train_losses(self.leaves)
            g_cls = torch.autograd.grad(l_cls, self.leaves, create_graph=True, allow_unused=True)
            g_mm = torch.autograd.grad(l_mm, self.leaves, create_graph=True, allow_unused=True)
            g_cls = [torch.zeros_like(p) if g is None else g for g, p in zip(g_cls, self.leaves)]
            g_mm = [torch.zeros_like(p) if g is None else g for g, p in zip(g_mm, self.leaves)]
            self.grad_graph = [(1 - alpha) * c + alpha * m for c, m in zip(g_cls, g_mm)]
            self.g_cls = [g.detach() for g in g_cls]
            self.g_mm = [g.detach() for g in g_mm]
        elif mode == "forward_over_reverse":
            from torch.func import grad

            def total(ps):
                l_cls, l_mm = train_losses(ps)
                return (1 - alpha) * l_cls + alpha * l_mm

            self._grad_total = grad(total)
            self.g_cls = list(grad(lambda ps: train_losses(ps)[0])(self.params))
            self.g_mm = list(grad(lambda ps: train_losses(ps)[1])(self.params))
        else:
            raise ValueError(f"unknown Hessian-vector product mode {mode!r}")

    @property
    def b(self) -> list[torch.Tensor]:
        return [m - c for m, c in zip(self.g_mm, self.g_cls)]

    def __call__(self, v: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        self.count += 1
        if self.mode == "double_backward":
            hv = torch.autograd.grad(self.grad_graph, self.leaves, grad_outputs=list(v),
                                     retain_graph=True, allow_unused=True)
            return [torch.zeros_like(p) if h is None else h.detach() for h, p in zip(hv, self.leaves)]
        from torch.func import jvp

        _, hv = jvp(self._grad_total, (self.params,), (tuple(v),))
        return [h.detach() for h in hv]


def hypergradient(method: str, train_losses: TrainLosses, val_loss: ValLoss | None, params: Params,
                  alpha: float, *, terms: int = 5, step: float | None = None, damping: float | None = None,
                  hvp_mode: str = "double_backward", spectrum_iters: int = SPECTRUM_ITERS, rel_damping: float = REL_DAMPING,
                  restarts: int = CG_RESTARTS) -> HyperResult:
    """dF/dalpha by `method` (neumann, cg, identity, official) at `params`. `terms`: Neumann
    terms or CG iterations per attempt; `step=None`: NEUMANN_STEP / lambda_max; `damping` (cg
    only) None: chosen from the spectrum (`damped_cg`), a number: the starting damping. The
    spectrum estimate (`spectrum_iters` products) runs only where needed. The residual of the
    vector used is always reported for cg and neumann."""
    H = HessianOperator(train_losses, params, alpha, hvp_mode)
    if method == "official":
        # The released code: hvp = H(L_tr) g_cls on the same batch, the "hypergradient" is the
        # mean of the entries of the first parameter tensor's part of it.
        hv = H(H.g_cls)
        return HyperResult(float(hv[0].mean()), H.count, NAN)
    leaves = tuple(p.detach().requires_grad_(True) for p in params)
    g_val = torch.autograd.grad(val_loss(leaves), leaves, allow_unused=True)
    g_val = [torch.zeros_like(p) if g is None else g.detach() for g, p in zip(g_val, leaves)]
    if method == "identity":
        return HyperResult(float(-_dot(g_val, H.b)), 0, NAN)
    if method not in ("neumann", "cg"):
        raise ValueError(f"unknown hypergradient method {method!r}")
    # The solvers run on one flat vector: a few large tensor operations per step instead of a
    # few per parameter tensor (the products themselves are unchanged).
    H, g_val, b = _Flat(params).wrap(H, g_val, H.b)
    cache: list[Spectrum] = []

    def spectrum() -> Spectrum:
        if not cache:
            cache.append(lanczos(H, lanczos_start(g_val), spectrum_iters))
        return cache[0]

    if method == "neumann":
        if step is None:
            step = NEUMANN_STEP / spectrum().scale
        v, used, res = neumann_inverse(H, g_val, terms, step)
        info = {"residual": res, "terms": used, "damping": 0.0, "step": float(step),
                "negative_curvature": bool(cache and cache[0].lambda_min < 0)}
    elif damping is None:
        v, info = lanczos_cg(H, g_val, terms, rel_damping)
        return HyperResult(float(-_dot(v, b)), H.count, **info)
    else:
        v, info = damped_cg(H, g_val, terms, damping, spectrum, rel_damping, restarts)
    est = cache[0] if cache else Spectrum(NAN, NAN, 0)
    info.setdefault("lambda_min", est.lambda_min)
    return HyperResult(float(-_dot(v, b)), H.count, lambda_max=est.lambda_max, **info)


class _Flat:
    """Parameter-shaped lists of tensors as one flat vector (a list of one tensor) and back."""

    def __init__(self, params: Params):
        self.shapes = [p.shape for p in params]
        self.sizes = [p.numel() for p in params]

    def cat(self, xs: Sequence[torch.Tensor]) -> Vec:
        return [torch.cat([x.reshape(-1) for x in xs])]

    def split(self, v: Sequence[torch.Tensor]) -> Vec:
        return [x.view(s) for x, s in zip(v[0].split(self.sizes), self.shapes)]

    def wrap(self, H: "HessianOperator", g: Sequence[torch.Tensor], b: Sequence[torch.Tensor]):
        """(H on flat vectors, flat g, flat b)."""
        return _FlatOperator(H, self), self.cat(g), self.cat(b)


class _FlatOperator:
    """v -> H v on flat vectors; `count` is H's product count."""

    def __init__(self, H: HessianOperator, flat: _Flat):
        self.H, self.flat = H, flat

    @property
    def count(self) -> int:
        return self.H.count

    def __call__(self, v: Sequence[torch.Tensor]) -> Vec:
        return self.flat.cat(self.H(self.flat.split(v)))
