"""Krylov solvers for the learned alpha's H^-1 g, on operators given as Hessian-vector products
(lists of tensors in, lists out): the Lanczos spectrum estimate, CG on the damped system with the
damping chosen from the Lanczos tridiagonal (`lanczos_cg`) or given (`damped_cg`, raised on
negative curvature), and the Neumann series. Each says what it cost and how well it solved.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

Vec = list[torch.Tensor]

SPECTRUM_ITERS = 20   # Lanczos steps (HVPs) of the spectrum estimate
REL_DAMPING = 1e-2    # cg, indefinite H: lambda_min(H + lambda I) ~ REL_DAMPING * lambda_max
CG_RESTARTS = 4       # cg: damping raises after non-positive curvature before the fallback
NEUMANN_STEP = 1.0    # neumann: step = NEUMANN_STEP / lambda_max (the series needs < 2)
NAN = float("nan")


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def _norm(a: Sequence[torch.Tensor]) -> float:
    return float(_dot(a, a)) ** 0.5


def _axpy(alpha: float | torch.Tensor, x: Sequence[torch.Tensor], y: Sequence[torch.Tensor]) -> Vec:
    return [alpha * xi + yi for xi, yi in zip(x, y)]


def _scale(alpha: float | torch.Tensor, x: Sequence[torch.Tensor]) -> Vec:
    return [alpha * xi for xi in x]


@dataclass
class Spectrum:
    lambda_max: float  # largest Ritz value: <= lambda_max(H), equal once the Krylov space is invariant
    lambda_min: float  # smallest Ritz value: >= lambda_min(H)
    hvps: int

    @property
    def scale(self) -> float:
        """Largest magnitude estimate (1 for the zero operator)."""
        return max(abs(self.lambda_max), abs(self.lambda_min)) or 1.0


def lanczos_start(g: Sequence[torch.Tensor]) -> Vec:
    """g / ||g|| + u / ||u||, u Gaussian from a private generator seeded 0 (the global RNG is
    untouched): deterministic, and not blind to eigenvectors orthogonal to g."""
    gen = torch.Generator().manual_seed(0)
    u = [torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device) for t in g]
    gn, un = _norm(g), _norm(u)
    return [ui / un + (gi / gn if gn > 0 else 0) for gi, ui in zip(g, u)]


@dataclass
class LanczosRun:
    basis: Vec           # the orthonormal vectors q_1 .. q_k (each a list of tensors)
    tridiagonal: torch.Tensor  # T = Q^T H Q (k x k, float64)
    beta: float          # the norm of the last residual vector: T's missing off-diagonal entry
    first_product: Vec   # H q_1


def lanczos_steps(hvp: Callable, start: Sequence[torch.Tensor], iters: int) -> LanczosRun:
    """At most `iters` Lanczos steps on the symmetric operator `hvp` from `start` (one product
    each, full re-orthogonalisation); fewer when the Krylov space turns out invariant."""
    q = _scale(1.0 / _norm(start), start)
    basis, diag, off, beta, first = [q], [], [], 0.0, None
    # one flat vector (the solvers' case): the basis as the rows of one matrix, so that each
    # Gram-Schmidt pass is two matrix-vector products instead of a dot and an update per vector
    rows = torch.empty((max(iters, 1), q[0].numel()), dtype=q[0].dtype, device=q[0].device) if len(q) == 1 else None
    if rows is not None:
        rows[0] = q[0].reshape(-1)
    for k in range(iters):
        w = hvp(q)
        first = first if first is not None else w
        diag.append(float(_dot(w, q)))
        size = _norm(w)
        for _ in range(2):  # Gram-Schmidt against every earlier vector; twice is enough
            if rows is not None:
                done, flat = rows[:len(basis)], w[0].reshape(-1)
                w = [(flat - done.T @ (done @ flat)).view_as(w[0])]
            else:
                for qj in basis:
                    w = _axpy(-_dot(w, qj), qj, w)
        beta = _norm(w)
        if k == iters - 1 or beta <= 1e-8 * max(size, 1e-30):
            break  # done, or the Krylov space is invariant: the Ritz values are eigenvalues
        off.append(beta)
        q = _scale(1.0 / beta, w)
        basis.append(q)
        if rows is not None:
            rows[len(basis) - 1] = q[0].reshape(-1)
    t = torch.diag(torch.tensor(diag, dtype=torch.float64))
    if off:
        o = torch.tensor(off, dtype=torch.float64)
        t = t + torch.diag(o, 1) + torch.diag(o, -1)
    return LanczosRun(basis[:len(diag)], t, beta, first)


def lanczos(hvp: Callable, start: Sequence[torch.Tensor], iters: int) -> Spectrum:
    """The extreme eigenvalues of the tridiagonal matrix of `iters` Lanczos steps (one product
    each, full re-orthogonalisation) on the symmetric operator `hvp` from `start`."""
    if iters < 1:
        return Spectrum(NAN, NAN, 0)
    run = lanczos_steps(hvp, start, iters)
    ev = torch.linalg.eigvalsh(run.tridiagonal)
    return Spectrum(float(ev[-1]), float(ev[0]), len(run.basis))


def neumann_inverse(hvp: Callable, g: Sequence[torch.Tensor], terms: int, step: float) -> tuple[Vec, int, float]:
    """v = step * sum_{j<n} p_j, p_j = (I - step H)^j g, n <= `terms` terms from `terms` products.
    H v = g - p_n, so the product that gives p_n also gives the residual ||H v - g|| = ||p_n||.
    The series converges only while step < 2 / lambda_max(H) and H > 0; a term larger than the
    one before means it diverges, and the sum stops before that term (n < terms).
    Returns (v, n, ||p_n|| / ||g||)."""
    p = [x.clone() for x in g]
    v = [torch.zeros_like(x) for x in g]
    g_norm = norm = _norm(g)
    n = 0
    for _ in range(terms):
        v = [vi + pi for vi, pi in zip(v, p)]
        n += 1
        p = _axpy(-step, hvp(p), p)
        nxt = _norm(p)
        if nxt > norm:
            break
        norm = nxt
    return _scale(step, v), n, (_norm(p) / g_norm if g_norm > 0 else 0.0)


@dataclass
class CGRun:
    x: Vec
    iterations: int
    curvature: float | None  # p^T H p / p^T p where p^T (H + damping I) p <= 0 stopped it
    hg: Vec | None           # H g, the first product (g is the first direction)


def cg_solve(hvp: Callable, g: Sequence[torch.Tensor], iterations: int, damping: float,
             tol: float = 1e-12) -> CGRun:
    """Conjugate gradient on (H + damping I) v = g from v = 0, at most `iterations` products;
    stops at relative residual sqrt(tol), or at a direction of non-positive curvature (the
    iterate before it is returned with that direction's Rayleigh quotient of H)."""
    x = [torch.zeros_like(t) for t in g]
    r = [t.clone() for t in g]
    p = [t.clone() for t in g]
    rs = g_norm2 = _dot(r, r)
    hg = None
    for k in range(iterations):
        if rs <= tol * g_norm2:
            return CGRun(x, k, None, hg)
        hp = hvp(p)
        hg = hg if hg is not None else [t.clone() for t in hp]
        ap = _axpy(damping, p, hp)
        denom, pp = _dot(p, ap), _dot(p, p)
        if denom <= 0:
            return CGRun(x, k, float(_dot(p, hp) / pp), hg)
        step = rs / denom
        x = _axpy(step, p, x)
        r = _axpy(-step, ap, r)
        rs_new = _dot(r, r)
        p = _axpy(rs_new / rs, p, r)
        rs = rs_new
    return CGRun(x, iterations, None, hg)


def _residual(hv: Sequence[torch.Tensor], damping: float, v: Sequence[torch.Tensor], g: Sequence[torch.Tensor]) -> float:
    """||hv + damping v - g|| / ||g||, hv = H v (0 for g = 0)."""
    g_norm = _norm(g)
    return _norm([h + damping * vi - gi for h, vi, gi in zip(hv, v, g)]) / g_norm if g_norm > 0 else 0.0


def damped_cg(hvp: Callable, g: Sequence[torch.Tensor], iterations: int, damping: float | None,
              spectrum: Callable[[], Spectrum], rel: float = REL_DAMPING,
              restarts: int = CG_RESTARTS) -> tuple[Vec, dict]:
    """v ~ (H + lambda I)^-1 g and what it took. lambda: `damping` if given, else from
    `spectrum()`: 0 if lambda_min > 0, else rel * lambda_max - lambda_min (H + lambda I > 0 by the
    estimate). Non-positive curvature along a CG direction: lambda <- max(2 lambda, rel *
    lambda_max - lowest curvature seen) and CG restarts, at most `restarts` times. v's residual
    (one product) above 1, or restarts exhausted: v = g / |lambda|_max (fallback "identity")."""
    est = spectrum() if damping is None else None
    if est is None:
        lam = float(damping)
    else:
        lam = 0.0 if est.lambda_min > 0 else rel * est.lambda_max - est.lambda_min
    info = {"negative_curvature": bool(est and est.lambda_min < 0), "fallback": None}
    lowest, hg, run = math.inf, None, None
    for _ in range(restarts + 1):
        run = cg_solve(hvp, g, iterations, lam)
        hg = hg if hg is not None else run.hg
        if run.curvature is None:
            break
        info["negative_curvature"] = True
        est, lowest = spectrum(), min(lowest, run.curvature)
        lam = max(2 * lam, rel * est.lambda_max - min(lowest, est.lambda_min))
    else:
        run = None
    if lowest < math.inf:
        info["lambda_min"] = min(lowest, est.lambda_min)
    if run is not None:
        res = _residual(hvp(run.x), lam, run.x, g)
        if res <= 1:
            return run.x, dict(info, damping=lam, residual=res, terms=run.iterations)
    scale = spectrum().scale
    hg = hg if hg is not None else hvp(g)
    v = _scale(1.0 / scale, g)
    res = _residual(_scale(1.0 / scale, hg), lam, v, g)
    return v, dict(info, damping=lam, residual=res, terms=0, fallback="identity")


def lanczos_cg(hvp: Callable, g: Sequence[torch.Tensor], iters: int, rel: float = REL_DAMPING) -> tuple[Vec, dict]:
    """CG on (H + lambda I) v = g with lambda chosen from the same products. `iters` Lanczos
    steps from g (one product each, full re-orthogonalisation) give an orthonormal basis Q of the
    Krylov space K(H, g) and T = Q^T H Q, tridiagonal. T's eigenvalues (Ritz values) estimate H's
    extreme eigenvalues on that space: lambda = 0 where the smallest is positive (no damping,
    no bias), else rel * theta_max - theta_min, so that T + lambda I is positive definite. Then
    v = Q (T + lambda I)^-1 ||g|| e_1, which is exactly the iterate CG reaches in as many steps on
    H + lambda I: no product is spent on a separate spectrum estimate and none on restarts. Its
    residual (H + lambda I) v - g = beta_k y_k q_{k+1} needs no product either. A residual above
    1 (it cannot happen in exact arithmetic) falls back to g / theta_max."""
    g_norm = _norm(g)
    if g_norm == 0 or iters < 1:
        return [torch.zeros_like(t) for t in g], {"damping": 0.0, "residual": 0.0, "terms": 0, "fallback": None,
                                                   "negative_curvature": False, "lambda_min": NAN, "lambda_max": NAN}
    run = lanczos_steps(hvp, g, iters)
    basis, t, beta, k = run.basis, run.tridiagonal, run.beta, len(run.basis)
    hg = _scale(g_norm, run.first_product)  # H g, for the fallback's residual
    ritz = torch.linalg.eigvalsh(t)
    lo, hi = float(ritz[0]), float(ritz[-1])
    top = max(abs(lo), abs(hi)) or 1.0
    lam = 0.0 if lo > 0 else rel * top - lo
    e1 = torch.zeros(k, dtype=torch.float64)
    e1[0] = g_norm
    y = torch.linalg.solve(t + lam * torch.eye(k, dtype=torch.float64), e1)
    residual = beta * abs(float(y[-1])) / g_norm if k == iters else 0.0
    info = {"damping": lam, "residual": residual, "terms": k, "fallback": None,
            "negative_curvature": lo < 0, "lambda_min": lo, "lambda_max": hi}
    if not math.isfinite(residual) or residual > 1:
        v = _scale(1.0 / top, g)
        return v, dict(info, fallback="identity", terms=0, residual=_residual(_scale(1.0 / top, hg), lam, v, g))
    v = [torch.zeros_like(t_) for t_ in g]
    for yi, qi in zip(y.tolist(), basis):
        v = _axpy(yi, qi, v)
    return v, info
