"""ReconBoost: "ReconBoost: Boosting Can Achieve Modality Reconcilement" (Hua, Xu, Bao, Yang,
Huang, ICML 2024), as the authors' code computes it, without its bugs.

Learner j is H(z_j), H a head shared by the modalities (Linear(d, `hidden`), ReLU, Linear); the
ensemble F = beta sum_j H(z_j) over the learners added so far, beta learned from `boost_rate`
(engine/models/fusion.py `boost`). Training is a sequence of stages over the modalities in turn
(data.modalities order); stage s, modality m, takes `boost_epochs` (4) epochs of boosting, then
`rectify_epochs` (4) of global rectification, one engine epoch being one pass over the data
(100 epochs = 12 stages and a half). Modality m's learner joins the ensemble at its first stage
(only the newest learner per modality is kept: the parameters are the learner).

- Boosting: only modality m's encoder and H learn (every other parameter, beta included, gets
  grad = None); the other learners run without gradient. Per sample, the loss is (w2
  p_-m(y) - w1) log p_m(y) / C, p_m = softmax(H(z_m)) and p_-m = softmax(F_-m) of the ensemble
  without m, so samples the others already get right weigh less; w1 5, w2 1 as the code (its
  1/C, from a mean over classes, is kept). With an empty ensemble (stage 0) p_-m(y) = 1, as the
  code computes it (train.py: the empty DynamicNet returns its constant c0, viewed as one column
  whose softmax is 1), so the stage-0 loss is (w2 - w1) / C mean log p_m(y); zero logits over C
  classes would give 1/C and a loss (w1 - w2 / C) / (w1 - w2) times larger (1.225 for 10 classes,
  w1 5, w2 1). Plus
  `ga_weight` (0.5) times the reconcilement term MSE(p_m, sg[p_prev]) against the previous
  stage's learner: the code detaches both arguments, so the term has no gradient; here
  (`ga_grad = "current"`) it trains the current learner, the intent of the paper's
  reconcilement regulariser, whose exact (KL) form is unverified; "none" reproduces the code.
- Rectification: every encoder, H and beta learn on the cross-entropy of F.

Each phase starts with a fresh optimiser state (the code builds a new optimiser per phase):
the state of every parameter is cleared when the phase changes. The engine's validation split
picks the best epoch (the code selects the best stage on the test split, dropping its last
partial batch). Without the code's optional unimodal pre-training.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.base import Method, freeze
from engine.models.multimodal import Output


def schedule(t: int, modalities: tuple[str, ...], boost: int, rectify: int) -> tuple[int, str, str]:
    """(stage, phase "boost" or "rectify", the stage's modality) of epoch t (from 1)."""
    stage, pos = divmod(t - 1, boost + rectify)
    return stage, ("boost" if pos < boost else "rectify"), modalities[stage % len(modalities)]


def boosting_loss(logits: torch.Tensor, others: torch.Tensor | None, labels: torch.Tensor, w1: float,
                  w2: float) -> torch.Tensor:
    """mean over the batch of (w2 p_-m(y) - w1) log p_m(y) / C; `others` the logits of the
    ensemble without m, None when it is empty (p_-m(y) = 1)."""
    logp = torch.log_softmax(logits, 1).gather(1, labels[:, None])[:, 0]
    if others is None:
        return (w2 - w1) * logp.mean() / logits.shape[1]
    p_others = torch.softmax(others, 1).gather(1, labels[:, None])[:, 0].detach()
    return ((w2 * p_others - w1) * logp).mean() / logits.shape[1]


class ReconBoost(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.reconboost

    def phase(self, t: int) -> tuple[int, str, str]:
        return schedule(t, self.recipe.data.modalities, self.cfg.boost_epochs, self.cfg.rectify_epochs)

    def set_members(self, model, t: int) -> None:
        """The learners of the modalities whose first stage has begun by epoch t."""
        stage = self.phase(t)[0]
        fusion = model.fusion
        members = torch.tensor([1.0 if j <= stage else 0.0 for j in range(len(fusion.modalities))])
        fusion.members.copy_(members)

    def on_fit_start(self, run, optimizer):
        self.optimizer = optimizer
        self.set_members(run.model, 1)

    def on_train_epoch_start(self, run, epoch):
        self.set_members(run.model, epoch)

    def forward(self, net, inputs, step):
        stage, phase, m = self.phase(step.epoch)
        if phase == "rectify":
            return net(inputs)

        def boosting(model, inputs):  # modality m's learner with gradient, the others without
            own = model.encode(inputs, (m,))
            with torch.no_grad():
                others = model.encode(inputs, tuple(k for k in model.modalities if k != m))
            feats = {k: (own | others)[k] for k in model.modalities}
            return Output(model.fusion(feats), feats, feats)

        return net(inputs, through=boosting)

    def loss(self, out, labels, step):
        stage, phase, m = self.phase(step.epoch)
        l_cls = F.cross_entropy(out.logits, labels)
        if phase == "rectify":
            return {"total": l_cls, "cls": l_cls}
        fusion = step.model.fusion
        learner = fusion.head(out.features[m])
        with torch.no_grad():
            others = fusion(out.features, exclude=m) if fusion.learners(exclude=m) else None
        l_boost = boosting_loss(learner, others, labels, self.cfg.w1, self.cfg.w2)
        terms = {"cls": l_cls, "boost": l_boost}
        total = l_boost
        if stage > 0 and self.cfg.ga_weight > 0:
            prev = self.phase(step.epoch - self.cfg.boost_epochs - self.cfg.rectify_epochs)[2]
            with torch.no_grad():
                p_prev = torch.softmax(fusion.head(out.features[prev]), 1)
            p = torch.softmax(learner, 1)
            terms["reconcile"] = F.mse_loss(p if self.cfg.ga_grad == "current" else p.detach(), p_prev)
            total = total + self.cfg.ga_weight * terms["reconcile"]
        return {"total": total, **terms}

    def on_after_backward(self, out, labels, losses, step):
        stage, phase, m = self.phase(step.epoch)
        model = step.model
        if phase == "boost":
            keep = {id(p) for p in (*model.encoders[m].parameters(), *model.fusion.head.parameters())}
            freeze(p for p in model.parameters() if id(p) not in keep)

    def on_validation_end(self, run, epoch):
        stage, phase, m = self.phase(epoch)
        if self.phase(epoch + 1)[1:] != (phase, m):  # a new phase: a fresh optimiser state
            self.optimizer.state.clear()
        return {"stage": stage, "phase": phase, "modality": m, "beta": round(float(run.model.fusion.beta.detach()), 4)}
