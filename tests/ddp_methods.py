"""Every method for a few epochs under two processes, launched by tests/test_methods_distributed.py
as `torchrun --nproc-per-node 2 tests/ddp_methods.py OUT.json`: each rank trains the same small
mfeat recipe on its share of every batch through the engine's own trainer, then the ranks
exchange a digest of their weights; rank 0 writes, per method, both digests, whether the
weights moved from their initial values and what the method reported each epoch."""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.runtime import dist as dists  # noqa: E402

from engine.contract import method_registry as registry, recipe as recipes
from engine.contract.events import Emitter  # noqa: E402
from engine.training.callbacks import RunCallback  # noqa: E402
from engine.setup import build_trainer  # noqa: E402

# settings that make each method's epoch-level decisions happen within three epochs
DECIDE_EARLY = {
    "unimodal": ["method.modality=pix"],
    "gblend": ["method.gblend.super_epoch=1"],
    "greedy": ["method.greedy.start=1", "method.greedy.window=2"],
    "mses": ["method.mses.patience=1"],
    "mslr": ["method.mslr.window=1"],
    "reconboost": ["method.reconboost.boost_epochs=1", "method.reconboost.rectify_epochs=1"],
    "domfn": ["method.domfn.pretrain_epochs=1"],
    "etmc": ["method.etmc.annealing=2"],
}


def digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def decisions(method) -> str:
    """A digest of what the method decided: its checkpointed state and its `last_*` values
    (modulation coefficients, loss weights, Pareto weights)."""
    h = hashlib.sha256()

    def add(x):
        if isinstance(x, torch.Tensor):
            h.update(x.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(str(k).encode())
                add(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                add(v)
        else:
            h.update(repr(x).encode())

    add(method.state_dict())
    add({k: v for k, v in vars(method).items() if k.startswith("last_")})
    return h.hexdigest()


def main(out: Path, names: list[str]) -> None:
    torch.set_num_threads(1)
    d = dists.init("cpu")
    results = {}
    for name in names:
        r = recipes.load(ROOT / "recipes" / "mfeat.toml", [
            f"method.name={name}", "train.epochs=3", "train.threads=1", "data.batch_size=96",
            *DECIDE_EARLY.get(name, [])])
        reports: list = []
        with tempfile.TemporaryDirectory() as tmp:
            class Reports(RunCallback):
                def on_log(self, ev) -> None:
                    if f"; {name} " in ev.message:  # the epoch summary line ends with what the method reports
                        reports.append(ev.message)

            trainer = build_trainer(r, Path(tmp) / "run", Emitter([]), dist=d, callbacks=[Reports()])
            start = digest(trainer.model)
            trainer.train()
            results[name] = {"digests": d.gather(digest(trainer.model)), "start": start,
                             "decisions": d.gather(decisions(trainer.method)),
                             "steps": trainer.global_step, "reports": reports}
    if d.main:
        out.write_text(json.dumps(results))
    d.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2].split(",") if len(sys.argv) > 2 else list(registry.NAMES))
