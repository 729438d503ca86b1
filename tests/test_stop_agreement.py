"""Under several processes every rank must leave the training loop at the same step: a stop is
acted on only through the value the ranks agreed on, never through the flag a signal set on one
rank after the last agreement (that rank would stop alone while the others wait in a collective,
and the world would end without run_finished). The dependency floor of torch is a safe one."""
from __future__ import annotations

import json
from pathlib import Path

from engine.runtime.dist import Dist


class RecordingWorld(Dist):
    """This process as one rank of a world: `any` is the agreement, recorded (the other ranks,
    which asked for nothing, follow whatever it returns)."""

    def __init__(self) -> None:
        super().__init__()
        self.agreed: list[bool] = []

    @property
    def enabled(self) -> bool:
        return True

    def any(self, flag: bool) -> bool:
        self.agreed.append(bool(flag))
        return bool(flag)

    def gather(self, obj) -> list:
        return [obj]

    def all_gather_cat(self, x, global_size: int):
        return x

    def barrier(self) -> None:
        pass


def test_a_stop_during_evaluation_is_acted_on_only_once_every_rank_agreed(tiny_mfeat: Path, tmp_path: Path) -> None:
    from engine.contract import recipe as recipes
    from engine.run import EngineRun

    run = EngineRun(recipes.load(tiny_mfeat, ["train.epochs=3"]), run_dir=tmp_path / "run")
    run.setup()
    world = RecordingWorld()
    run.trainer.dist = world
    seen_after_stop: list[str] = []

    from engine.training.callbacks import RunCallback

    class Listener(RunCallback):
        def on_eval(self, ev) -> None:
            if ev.epoch == 1:
                run.trainer.stop_requested = True  # the signal lands on this rank during the evaluation
            elif run.trainer.stop_requested:
                seen_after_stop.append(ev.type)

        def on_step(self, ev) -> None:
            if run.trainer.stop_requested:
                seen_after_stop.append(ev.type)

    run.report.callbacks.append(Listener())
    try:
        outcome = run.train()
        code = run.finish(outcome)
    finally:
        run.cleanup()
    assert code == 130 and outcome.status == "cancelled"
    # the loop was left right after an agreement that said "stop", which every rank saw
    assert world.agreed and world.agreed[-1] is True
    assert "step" not in seen_after_stop  # stopped at the epoch boundary, with its checkpoint
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "cancelled" and summary["epochs_done"] == 1


def test_torch_is_required_at_a_version_whose_safe_loading_holds() -> None:
    """weights_only=True loading could be bypassed before torch 2.6 and again before 2.10."""
    import tomllib

    import torch
    from packaging.requirements import Requirement
    from packaging.version import Version

    root = Path(__file__).resolve().parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(Requirement(d) for d in deps if Requirement(d).name == "torch").specifier
    for unsafe in ("2.4.1", "2.5.1", "2.6.0", "2.9.1"):
        assert Version(unsafe) not in spec, unsafe
    assert Version("2.10.0") in spec
    assert Version(torch.__version__.split("+")[0]) in spec
