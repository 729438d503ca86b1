"""The learned alpha on a real model: which batches and parameters the hypergradient sees, and
the closures that engine/alpha/hypergrad.py differentiates.

- The outer loss L_CLS^val is measured on `alpha.val_batches` batches of the validation split
  (never the test split, never a batch the inner step trains on); H and b on
  `alpha.train_batches` batches of the training split. `alpha.estimates` such pairs, disjoint,
  each give an estimate; the hypergradient is their mean, its standard error their sample
  standard deviation over sqrt(estimates) (one batch each is noise: its sign flips between
  draws). Under DDP each rank draws its own and the means and squared standard errors are
  averaged over ranks (the standard error of the mean of the ranks' means), so every rank takes
  the same step. With `params = "last"` the validation batches of an estimate cost one
  no-graph encoder pass and one gradient of the last layers, so several per estimate are cheap;
  the training batches cost that pass plus the solver's Hessian-vector products. All are drawn by a permutation fixed by
  (seed, epoch, step), so a resumed run draws the same ones. The `official` mode uses one fixed
  batch of `alpha.batch_size` validation samples for everything, as the released code uses a
  fixed held-out batch (there it is taken from training data; here from validation).
- Batch normalisation and dropout: the hypergradient is computed with the model in eval mode,
  so batch normalisation uses its running statistics and dropout is off. L_tr, L_CLS^val and
  every Hessian-vector product are then the same deterministic function of theta (a fresh
  dropout mask per product would make H a different matrix each time), nothing in the model is
  modified (no running-statistics update), and no random numbers are drawn, so training
  continues exactly as it would without the update. The inner steps train with batch
  statistics and dropout; the hypergradient differentiates the model that validation measures.
- `alpha.params = "last"` restricts theta to the last linear layer of each encoder, the
  projection heads and the classifier: the encoders' forward pass then runs once without a
  graph and every product costs a few small matrix products.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.func import functional_call

from engine.alpha.hypergrad import hypergradient
from engine.methods.losses import classification_loss, matching_loss


# `alpha.terms = 0`: CG (Lanczos steps) reaches a relative error of about 1e-2 within 20 iterations
# on the mfeat model at its inner optimum (1e-4 at 30, 2e-6 at 50), far below the spread of the
# estimates over batch draws (tens of percent); the Neumann
# series needs about 200 terms for a few percent (tests/test_hypergrad_solvers.py).
DEFAULT_TERMS = {"cg": 20, "neumann": 200}


def last_layer_names(model: nn.Module) -> list[str]:
    """Parameter names of each encoder's last Linear layer, the projections and the fusion (classifier)."""
    names: list[str] = []
    for m, enc in model.encoders.items():
        linears = [n for n, mod in enc.named_modules() if isinstance(mod, nn.Linear)]
        if linears:
            prefix = f"encoders.{m}.{linears[-1]}"
            names += [n for n, _ in model.named_parameters() if n.startswith(prefix + ".")]
    names += [n for n, _ in model.named_parameters()
              if n.startswith(("projections.", "fusion."))]
    return names


def _draw(n: int, size: int, count: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:min(n, size * count)]


class ModelHypergradient:
    def __init__(self, ctx):
        self.ctx = ctx
        r = ctx.recipe
        self.cfg = r.alpha
        self.batch_size = self.cfg.batch_size or r.data.batch_size
        model = ctx.model
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        self.names = last_layer_names(model) if self.cfg.params == "last" else trainable
        self.names = [n for n in self.names if n in set(trainable)]

    def _draws(self, epoch: int, step: int) -> list[tuple[tuple, tuple]]:
        """`alpha.estimates` disjoint (training, validation) batch pairs on this rank's device."""
        data, dist = self.ctx.data, self.ctx.dist
        seed = self.ctx.recipe.train.seed
        val = data.val
        if self.cfg.hypergradient == "official":
            idx = _draw(len(val), self.batch_size, 1, seed * 7919 + 1)
            batch = dist.to_device(*val.batch(idx))
            return [(batch, batch)]
        # under DDP each rank draws its own batches; the hypergradients are averaged
        key = ((seed * 1_000_003 + epoch) * 100_003 + step) * 64 + dist.rank
        k = self.cfg.estimates
        tr_idx = _draw(len(data.train), self.batch_size, self.cfg.train_batches * k, key).chunk(k)
        val_idx = _draw(len(val), self.batch_size, self.cfg.val_batches * k, key + 1).chunk(k)
        return [(dist.to_device(*data.train.batch(t)), dist.to_device(*val.batch(v)))
                for t, v in zip(tr_idx, val_idx) if len(t) > 1 and len(v) > 0]

    def __call__(self, alpha: float, epoch: int, step: int = 0) -> dict:
        """dF/dalpha at the current weights: the mean over the draws, and how the solver did
        (the worst relative residual, the largest damping, any negative curvature or fallback)
        and the spread (sample standard deviation) of the draws' values."""
        model = self.ctx.model
        was_training = model.training
        model.eval()
        start = time.perf_counter()
        params = dict(model.named_parameters())
        fixed = {n: p.detach() for n, p in params.items() if n not in self.names}
        fixed.update({n: b for n, b in model.named_buffers()})
        theta = tuple(params[n].detach() for n in self.names)
        try:
            results = [self._one(model, fixed, theta, alpha, batches) for batches in self._draws(epoch, step)]
        finally:
            model.train(was_training)
        values = [r.value for r in results]
        dist = self.ctx.dist
        value = dist.all_reduce_mean(sum(values) / len(values))  # the same alpha on every rank
        k = len(values)
        se = (dist.all_reduce_mean(statistics.variance(values) / k) / dist.world) ** 0.5 if k > 1 else None
        agree = dist.all_reduce_mean(float(all(v > 0 for v in values) or all(v < 0 for v in values))) == 1.0
        diag = [r.as_dict() for r in results]

        def worst(key, pick=max):
            got = [d[key] for d in diag if d.get(key) is not None]
            return pick(got) if got else None

        return {"hypergradient": value, "estimates": len(values),
                "spread": statistics.stdev(values) if len(values) > 1 else 0.0, "standard_error": se,
                "t": value / se if se else None, "agree": agree,
                "hvps": sum(r.hvps for r in results), "terms_used": worst("terms", min),
                "residual": worst("residual"), "damping": worst("damping"),
                "negative_curvature": any(d.get("negative_curvature") for d in diag),
                "fallbacks": sum(1 for d in diag if d.get("fallback")),
                "lambda_max": worst("lambda_max"), "lambda_min": worst("lambda_min", min),
                "seconds": time.perf_counter() - start, "params": sum(t.numel() for t in theta)}

    def _one(self, model, fixed: dict, theta: tuple, alpha: float, batches):
        (x_tr, y_tr), (x_val, y_val) = batches
        loss_cfg = self.ctx.recipe.loss

        def forward(ps, inputs):
            return functional_call(model, {**fixed, **dict(zip(self.names, ps))}, (inputs,))

        if self.cfg.params == "last" and self.cfg.hvp == "double_backward":
            forward = _cached_encoder_forward(model, self.names, fixed, forward)

        def train_losses(ps):
            out = forward(ps, x_tr)
            return (classification_loss(out.logits, y_tr),
                    matching_loss(out.embeddings, loss_cfg.temperature, loss_cfg.pair_reduction))

        def val_loss(ps):
            return classification_loss(forward(ps, x_val).logits, y_val)

        return hypergradient(self.cfg.hypergradient, train_losses, val_loss, theta, alpha,
                             terms=self.cfg.terms or DEFAULT_TERMS.get(self.cfg.hypergradient, 0),
                             step=self.cfg.neumann_step or None,
                             damping=self.cfg.damping or None, hvp_mode=self.cfg.hvp)


def _cached_encoder_forward(model, names, fixed, forward):
    """For `params = "last"`: the inputs of each encoder's last layer computed once per batch
    without a graph; the closure then applies only the selected layers. Falls back to the full
    forward for encoders whose last Linear is not their final operation."""
    cache: dict[int, dict[str, torch.Tensor]] = {}
    last = {}
    for m, enc in model.encoders.items():
        linears = [(n, mod) for n, mod in enc.named_modules() if isinstance(mod, nn.Linear)]
        if linears:
            last[m] = linears[-1]

    def penultimate(inputs):
        key = id(inputs)
        if key not in cache:
            grabbed: dict[str, torch.Tensor] = {}
            outs: dict[str, torch.Tensor] = {}
            hooks = []
            for m, (_, mod) in last.items():
                def hook(module, args, output, m=m):
                    grabbed[m] = args[0].detach()
                    outs[m] = output.detach()
                hooks.append(mod.register_forward_hook(hook))
            try:
                with torch.no_grad():
                    full = {m: model.encoders[m](inputs[m]) for m in model.modalities}
            finally:
                for h in hooks:
                    h.remove()
            # usable only where the last Linear's output is the encoder's output
            ok = all(m in outs and torch.equal(outs[m], full[m]) for m in model.modalities)
            cache[key] = grabbed if ok else None
        return cache[key]

    def fast(ps, inputs):
        h = penultimate(inputs)
        if h is None:
            return forward(ps, inputs)
        p = {**fixed, **dict(zip(names, ps))}
        feats = {}
        for m in model.modalities:
            lname, mod = last[m]
            prefix = f"encoders.{m}.{lname}."
            feats[m] = functional_call(mod, {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)},
                                       (h[m],))
        return functional_call(model, p, (None,), {"features": feats})

    return fast
