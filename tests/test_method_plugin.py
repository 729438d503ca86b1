"""A method of another package, installed beside the console (tests/fixtures/plugin: the reweight
method of docs/writing-a-method.md), is a method like the built-in ones: `lfm validate` checks its
keys, `lfm run` trains it (one process and two), a stopped run resumes to the uninterrupted run's
numbers, a sweep runs it two at a time, `lfm compare`, the dashboard's recipe list and history
name it. A package whose method cannot be used is left out with a warning, and the console works."""
from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import events_of, only_run_dir
from lfm_tui import plan as plans
from plugin_site import PLUGIN, ROOT, env_with, install, write_entry_points

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]
MFEAT = str(ROOT / "recipes" / "mfeat.toml")
QUICK = ["method.name=reweight", "train.epochs=1", "train.threads=1", "review.gap_samples=0"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return install(tmp_path_factory.mktemp("site"))


def lfm(args: list[str], site: Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(LFM + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env_with(site))


def python(code: str, site: Path, cwd: Path) -> dict:
    """What `code` prints as JSON, run with the package installed."""
    res = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                         env=env_with(site))
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


def reports(run: Path) -> list[dict]:
    """The method's report at the end of each epoch: {"accuracy": {...}, "weights": {...}}."""
    out = []
    for e in events_of((run / "events.jsonl").read_text()):
        m = e["type"] == "log" and re.fullmatch(r"epoch \d+: (?:.*; )?reweight accuracy (\{.*\}), weights (\{.*\})", e["message"])
        if m:
            out.append({"accuracy": ast.literal_eval(m[1]), "weights": ast.literal_eval(m[2])})
    return out


# ---------------------------------------------------------------------------- the recipe

def test_validate_knows_the_plugin_and_its_keys(site: Path, tmp_path: Path) -> None:
    ok = lfm(["validate", MFEAT, "method.name=reweight", "method.reweight.weight=2"], site, tmp_path)
    assert ok.returncode == 0 and "method reweight" in ok.stdout and ok.stderr == "", ok.stdout + ok.stderr

    bad = lfm(["validate", MFEAT, "method.name=reweight", "method.reweight.wieght=2", "method.reweight.floor=0"],
              site, tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "method.reweight.wieght: unknown key (did you mean 'method.reweight.weight'?); " \
           "known keys here: floor, momentum, weight" in bad.stderr
    assert "method.reweight.floor: expected a value > 0.0, found 0.0" in bad.stderr

    other = lfm(["validate", MFEAT, "method.name=concat", "method.reweight.weight=2"], site, tmp_path)
    assert other.returncode == 2
    assert "method.reweight: method 'concat' does not take it (taken by 'reweight')" in other.stderr

    # without the package, a recipe naming its method says where methods come from
    res = subprocess.run(LFM + ["validate", MFEAT, "method.name=reweight"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env=env_with(tmp_path))
    assert res.returncode == 2 and "found 'reweight'" in res.stderr and "Traceback" not in res.stderr
    assert "known once that package is installed (it declares it under the entry points 'lfm.methods')" in res.stderr


# ---------------------------------------------------------------------------- one run

@pytest.mark.slow
def test_a_run_trains_the_plugin_method_and_the_dashboard_lists_it(site: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "reweighted.toml"
    recipe.write_text(Path(MFEAT).read_text().replace('name = "lfm"', 'name = "reweight"')
                      + "\n[method.reweight]\nweight = 0.5\n")
    res = lfm(["run", str(recipe), "train.epochs=1", "train.threads=1", "train.log_every=1",
               "--runs-dir", str(tmp_path / "runs")], site, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    run = only_run_dir(tmp_path / "runs")
    evs = events_of((run / "events.jsonl").read_text())

    # its loss: the fused CE plus each modality's CE; at the first step both accuracies are at
    # chance, so each weight is method.reweight.weight
    first = next(e for e in evs if e["type"] == "step")["losses"]
    assert set(first) == {"total", "cls", "uni_pix", "uni_mor"}
    assert first["total"] == pytest.approx(first["cls"] + 0.5 * (first["uni_pix"] + first["uni_mor"]), rel=1e-5)

    # its state, reported after the epoch: the accuracies moved from chance (0.1), mor (6 shape
    # features) lags pix (240 pixels), so mor's weight is the larger; the weights are the
    # method's formula of the accuracies, and average to 0.5
    (rep,) = reports(run)
    acc, w = rep["accuracy"], rep["weights"]
    assert 0.1 < acc["mor"] < acc["pix"] < 1.0
    inverse = {m: 1 / a for m, a in acc.items()}
    for m in acc:
        assert w[m] == pytest.approx(0.5 * 2 * inverse[m] / sum(inverse.values()), abs=2e-4)
    assert w["mor"] > 0.5 > w["pix"] and (w["mor"] + w["pix"]) / 2 == pytest.approx(0.5, abs=1e-4)

    # the dashboard: the recipe list and the history name the method; it does not use alpha
    shown = python(
        "import json, sys; from pathlib import Path\n"
        "from lfm_tui.catalog import read_recipe\nfrom lfm_tui.history import read_run\n"
        f"r = read_recipe(Path({str(recipe)!r})); h = read_run(Path({str(run)!r}))\n"
        "print(json.dumps({'recipe': [r.method, list(r.problems)], 'history': [h.method, h.alpha, h.status]}))",
        site, tmp_path)
    assert shown == {"recipe": ["reweight", []], "history": ["reweight", "-", "ok"]}

    # lfm compare labels its row by the method
    table = lfm(["compare", str(run)], site, tmp_path)
    assert table.returncode == 0 and re.search(r"│ reweight +│ +1 │", table.stdout), table.stdout


@pytest.mark.slow
def test_a_stopped_plugin_run_resumes_to_the_uninterrupted_runs_numbers(site: Path, tmp_path: Path) -> None:
    """The method's state (its running accuracies) is in the checkpoint: resumed without it, the
    weights would start again from chance and the numbers would differ."""
    args = ["run", MFEAT, *QUICK, "train.epochs=3", "data.batch_size=16"]
    full = lfm([*args, "--runs-dir", str(tmp_path / "full")], site, tmp_path)
    assert full.returncode == 0, full.stderr[-3000:]

    proc = subprocess.Popen(LFM + [*args, "--runs-dir", str(tmp_path / "cut")], cwd=tmp_path, env=env_with(site),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 200
    while time.time() < deadline and not list((tmp_path / "cut").rglob("last.pt")):
        time.sleep(0.05)  # epoch 1 is done: stop within epoch 2
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=200)
    assert proc.returncode == 130, out + err
    cut = only_run_dir(tmp_path / "cut")
    res = lfm(["run", "--resume", str(cut)], site, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr

    def numbers(run: Path) -> dict:
        s = json.loads((run / "summary.json").read_text())
        return {"best": s["best"], "test": s["test"]}

    whole = only_run_dir(tmp_path / "full")
    assert numbers(cut) == numbers(whole)
    assert reports(cut)[-1] == reports(whole)[-1]   # the method's state at the end


# ---------------------------------------------------------------------------- many runs, many processes

@pytest.mark.slow
def test_a_sweep_over_the_plugins_key_two_at_a_time_and_its_comparison(site: Path, tmp_path: Path) -> None:
    sw = tmp_path / "sw"
    res = lfm(["sweep", MFEAT, *QUICK, "--grid", "method.reweight.weight=0.5,2", "--jobs", "2", "--out", str(sw)],
              site, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 runs into" in res.stdout and "2 at a time" in res.stdout
    for weight in (0.5, 2.0):
        (rep,) = reports(sw / plans.folder_name({"method.reweight.weight": f"{weight:g}"}) / "seed-0")
        assert sum(rep["weights"].values()) / 2 == pytest.approx(weight, abs=1e-4)
    table = lfm(["compare", str(sw)], site, tmp_path)
    assert table.returncode == 0
    rows = [line for line in table.stdout.splitlines() if "reweight" in line]
    assert [re.search(r"reweight method\.reweight\.weight=\S+", r)[0] for r in rows] == [
        "reweight method.reweight.weight=0.5", "reweight method.reweight.weight=2.0"], table.stdout


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_train_the_plugin_method_in_step(site: Path, tmp_path: Path) -> None:
    """`lfm run --nproc-per-node 2`: the processes' weights stay identical. And its decisions come
    from the global batch (Step.summed): both processes hold the same running accuracies, hence
    weight the losses alike (tests/ddp_methods.py compares their method states; the averaged
    gradients alone would keep the weights identical even if the states differed)."""
    res = lfm(["run", MFEAT, *QUICK, "train.epochs=2", "--nproc-per-node", "2", "--runs-dir", str(tmp_path / "runs")],
              site, tmp_path)
    run = only_run_dir(tmp_path / "runs")
    # exit 0, or a rank aborted in gloo's teardown after the run had finished (tests/test_distributed.py)
    status = json.loads((run / "summary.json").read_text())["status"]
    assert status == "ok" and (res.returncode == 0 or "SIGABRT" in res.stderr), res.stdout + res.stderr
    evs = events_of((run / "events.jsonl").read_text())
    assert evs[0]["world_size"] == 2
    evals = [e for e in evs if e["type"] == "eval" and e["split"] == "val"]
    assert len(evals) == 2
    for e in evals:
        assert e["ranks"]["checksums"][0] == e["ranks"]["checksums"][1]
    assert len(reports(run)) == 2 and reports(run)[-1]["weights"]["mor"] > reports(run)[-1]["weights"]["pix"]

    out = tmp_path / "ranks.json"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                    str(ROOT / "tests" / "ddp_methods.py"), str(out), "reweight"],
                   cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env_with(site))
    got = json.loads(out.read_text())["reweight"]
    assert got["steps"] == 45 and got["digests"][0] != got["start"]
    assert got["digests"][0] == got["digests"][1] and got["decisions"][0] == got["decisions"][1]


# ---------------------------------------------------------------------------- installed by pip

@pytest.mark.slow
def test_pip_installs_the_package_and_its_method_validates(tmp_path: Path) -> None:
    """The fixture package is a real one: pip (offline, no build isolation) installs it from its
    pyproject.toml, entry point included."""
    pytest.importorskip("setuptools")
    source = shutil.copytree(PLUGIN, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "target"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                          "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (target / "lfm_reweight" / "method.py").is_file()
    res = lfm(["validate", MFEAT, "method.name=reweight", "method.reweight.momentum=0.5"], target, tmp_path)
    assert res.returncode == 0 and "method reweight" in res.stdout, res.stdout + res.stderr


# ---------------------------------------------------------------------------- packages that cannot be used

BROKEN_INFO = '''
from dataclasses import dataclass
from engine.contract.method_info import MethodInfo
from engine.contract.schema_fields import spec

@dataclass(frozen=True)
class NoDefault:
    rate: float

@dataclass(frozen=True)
class TableKey:
    weights: dict = spec({})

NOT_INFO = {"name": "notinfo"}
NO_DEFAULT = MethodInfo("nodefault", "a key without a default", "lfm_broken.impl:X", config=NoDefault)
TABLE_KEY = MethodInfo("tablekey", "a key that is a table", "lfm_broken.impl:X", config=TableKey)
TAKEN = MethodInfo("concat", "a built-in method's name", "lfm_broken.impl:X")
NO_IMPL = MethodInfo("noimpl", "its implementation does not import", "lfm_broken.absent:Method")
'''


def test_a_package_whose_method_cannot_be_used_is_left_out_with_a_warning(site: Path, tmp_path: Path) -> None:
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    (broken / "lfm_broken").mkdir()
    (broken / "lfm_broken" / "__init__.py").write_text("")
    (broken / "lfm_broken" / "info.py").write_text(BROKEN_INFO)
    info = broken / "lfm_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lfm-broken\nVersion: 1.0\n")
    write_entry_points(info, {"lfm.methods": {
        "missing": "lfm_broken.absent:INFO", "notinfo": "lfm_broken.info:NOT_INFO",
        "nodefault": "lfm_broken.info:NO_DEFAULT", "tablekey": "lfm_broken.info:TABLE_KEY",
        "taken": "lfm_broken.info:TAKEN", "noimpl": "lfm_broken.info:NO_IMPL"}})

    res = lfm(["validate", MFEAT, "method.name=reweight"], broken, tmp_path)
    assert res.returncode == 0 and "method reweight" in res.stdout, res.stdout + res.stderr  # the good one works
    warnings = [line for line in res.stderr.splitlines() if line.startswith("lfm: warning: method plug-in")]
    assert warnings == [
        "lfm: warning: method plug-in 'missing' (lfm_broken.absent:INFO) did not load: "
        "ModuleNotFoundError: No module named 'lfm_broken.absent'",
        "lfm: warning: method plug-in 'nodefault' (lfm_broken.info:NO_DEFAULT) left out: its config NoDefault "
        "cannot be built from its defaults: TypeError: NoDefault.__init__() missing 1 required positional "
        "argument: 'rate'",
        "lfm: warning: method plug-in 'notinfo' (lfm_broken.info:NOT_INFO) left out: it is a dict, not an "
        "engine.contract.method_info.MethodInfo",
        "lfm: warning: method plug-in 'tablekey' (lfm_broken.info:TABLE_KEY) left out: its config key 'weights' "
        "is a dict; keys are bool, int, float, str or tuple[one of them, ...]",
        "lfm: warning: method plug-in 'taken' (lfm_broken.info:TAKEN) left out: the name 'concat' is taken",
    ], res.stderr
    assert "Traceback" not in res.stderr

    left_out = lfm(["validate", MFEAT, "method.name=nodefault"], broken, tmp_path)
    assert left_out.returncode == 2 and "found 'nodefault'" in left_out.stderr

    # a method whose declaration is sound but whose implementation does not import: the run
    # refuses it in one message, before a run folder is made
    run = lfm(["run", MFEAT, "method.name=noimpl", "train.epochs=1", "train.threads=1",
               "--runs-dir", str(tmp_path / "runs")], broken, tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    assert ("method 'noimpl': its implementation lfm_broken.absent:Method did not load: "
            "ModuleNotFoundError: No module named 'lfm_broken.absent'") in run.stdout + run.stderr
    assert not (tmp_path / "runs").exists()


def test_the_registry_leaves_out_declarations_the_console_cannot_read() -> None:
    from engine.contract import method_registry as registry
    from engine.contract.method_info import MethodInfo
    from engine.contract.schema_fields import spec

    @dataclasses.dataclass(frozen=True)
    class Good:
        rate: float = spec(0.5, lo=0.0)
        rates: tuple[float, ...] = spec(())

    def problem(**kw) -> str | None:
        return registry._plugin_problem(MethodInfo(**{"name": "mine", "summary": "s", "impl": "pkg.mod:Cls", **kw}),
                                        registry._BUILTIN)

    assert problem(config=Good) is None and problem(keys=("modality", "mmtm"), fusion="shared") is None
    assert problem(name="Mine") == "its name 'Mine' is not a lower-case identifier of at most 40 characters"
    assert problem(name="modality") == "its name 'modality' is not a lower-case identifier of at most 40 characters"
    assert problem(impl="pkg.mod.Cls") == "its impl 'pkg.mod.Cls' is not 'package.module:Class'"
    assert problem(summary=None) == "its summary is a NoneType, not a string"
    assert problem(fusion="nope").startswith("its fusion 'nope' is none of boost, concat, divergence,")
    from engine.models.fusion import FUSIONS   # every fusion the model builds may be named, torch-free
    assert [f for f in FUSIONS if problem(fusion=f) is not None] == []
    assert problem(keys=("nope",)).startswith("its keys ('nope',) are not among the [method] keys")
    assert problem(modalities=0) == "its modalities 0 is not a positive number"
    assert problem(checks=("not a function",)) == "its checks and fusion_options are not functions of the recipe"
    assert problem(checks=len) == problem(fusion_options="x") == problem(checks=("not a function",))
    assert problem(config=dict) == "its config is not a dataclass"


def test_a_check_of_a_method_that_fails_is_a_problem_not_a_traceback() -> None:
    from engine.contract import recipe as recipes
    from engine.contract.method_info import MethodInfo

    def broken(recipe):
        raise RuntimeError("boom")

    info = MethodInfo("mine", "s", "pkg.mod:Cls", checks=(broken,))
    r = recipes.load(Path(MFEAT), [])
    assert info.problems(r) == ["method.name: the mine method's check 'broken' failed: RuntimeError: boom"]


# ---------------------------------------------------------------------------- the guide

DOC = ROOT / "docs" / "writing-a-method.md"


def doc_code(text: str) -> dict[str, list[str]]:
    """The guide's python and toml blocks, by the package file (`<!-- file: PATH -->`) they follow."""
    out: dict[str, list[str]] = {}
    current = None
    for m in re.finditer(r"<!-- file: (\S+) -->|```(\w*)\n(.*?)```", text, re.S):
        if m[1]:
            current = m[1]
        elif m[2] in ("python", "toml"):
            assert current is not None, f"a {m[2]} block before any file marker: {m[3][:80]!r}"
            out.setdefault(current, []).append(m[3])
    return out


def test_the_guide_shows_the_packages_code_line_for_line() -> None:
    """Its blocks, in order, are each package file's lines (blank lines aside), and every file
    of the package is shown: the guide cannot drift from the code the tests train."""
    shown = doc_code(DOC.read_text())
    files = sorted(str(p.relative_to(PLUGIN)) for p in PLUGIN.rglob("*") if p.suffix in (".py", ".toml"))
    assert sorted(shown) == files
    for name, blocks in shown.items():
        lines = [line for line in (PLUGIN / name).read_text().splitlines() if line.strip()]
        assert [line for b in blocks for line in b.splitlines() if line.strip()] == lines, name
    assert "docs/writing-a-method.md" in (ROOT / "README.md").read_text()
