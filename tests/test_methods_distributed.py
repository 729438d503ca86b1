"""Every method under two processes (gloo, CPU): after three epochs of mfeat the two ranks
hold bit-identical weights and took the same decisions (modulation coefficients, loss and
Pareto weights, early stops, learning-rate factors), for the methods that modulate gradients
as for the plain ones. One torchrun for all the methods (tests/ddp_methods.py); marked
`distributed`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.contract import method_registry as registry
pytestmark = [pytest.mark.distributed, pytest.mark.slow]  # three epochs of every method under two processes

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddp") / "methods.json"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                          str(HERE / "ddp_methods.py"), str(out)],
                         capture_output=True, text=True, timeout=600, cwd=out.parent)
    if not out.is_file():
        pytest.fail(f"the two-process run wrote no results (exit {res.returncode}):\n{res.stderr[-4000:]}")
    return json.loads(out.read_text())


@pytest.mark.parametrize("name", registry.NAMES)
def test_both_ranks_hold_the_same_weights_and_decisions(two_ranks: dict, name: str) -> None:
    got = two_ranks[name]
    assert got["steps"] == 45                           # 3 epochs of 15 global batches of 96
    assert got["digests"][0] != got["start"]            # the weights moved
    assert got["digests"][0] == got["digests"][1]       # and are the same on both ranks, bit for bit
    assert got["decisions"][0] == got["decisions"][1]   # as what the method decided from them


def test_methods_that_decide_per_epoch_reported_on_the_global_run(two_ranks: dict) -> None:
    """The epoch-level decisions happened within the three epochs (the settings of
    tests/ddp_methods.py make them early), so the agreement above covers them."""
    for name in ("ogm_ge", "gblend", "greedy", "mslr", "agm", "reconboost"):
        assert any(r.startswith("epoch 3: ") and f"; {name} " in r for r in two_ranks[name]["reports"]), \
            (name, two_ranks[name]["reports"])
