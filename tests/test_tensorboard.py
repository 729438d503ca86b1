"""What a run writes to TensorBoard, read back with TensorBoard's own readers: scalars on the
global-step axis beside an `epoch` scalar, the run named after its folder, the hyper-parameters
of the run's method with best and test metrics, confusion matrices as images, the recipe as text."""
from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path

import pytest
from conftest import RECIPES, TINY_MFEAT, only_run_dir, run_engine

from engine.training import confusion

from engine.contract import layout
from engine.contract import recipe as recipes
from engine.contract.events import make
from engine.contract.hparams import run_hparams


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One two-epoch mfeat run (pix and mor, 10 classes) through the engine process."""
    tmp = tmp_path_factory.mktemp("tb")
    recipe = tmp / "tiny_mfeat.toml"
    recipe.write_text(TINY_MFEAT)
    res = run_engine([str(recipe), "optim.lr=0.002", "--runs-dir", str(tmp / "runs")], tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    return only_run_dir(tmp / "runs")


@pytest.fixture(scope="module")
def acc(tiny_run: Path):
    from tensorboard.backend.event_processing import event_accumulator as ea

    a = ea.EventAccumulator(str(layout.tensorboard_dir(tiny_run)),
                            size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
    a.Reload()
    return a


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / layout.EVENTS).read_text().splitlines()]


def _hparams_data(acc, tag: str):
    from tensorboard.plugins.hparams import plugin_data_pb2

    return plugin_data_pb2.HParamsPluginData.FromString(acc.SummaryMetadata(tag).plugin_data.content)


def test_train_and_eval_scalars_share_the_global_step(tiny_run: Path, acc) -> None:
    evs = _events(tiny_run)
    spe = evs[0]["steps_per_epoch"]
    steps = [e for e in evs if e["type"] == "step"]
    ends = {e: max(s["global_step"] for s in steps if s["epoch"] == e) for e in (1, 2)}
    assert ends == {1: spe, 2: 2 * spe}
    val = acc.Scalars("val/acc")
    assert [s.step for s in val] == [ends[1], ends[2]]
    vals = [e for e in evs if e["type"] == "eval" and e["split"] == "val"]
    assert [s.value for s in val] == pytest.approx([e["fused"]["acc"] for e in vals], rel=1e-6)
    assert [s.step for s in acc.Scalars("val/acc_pix")] == [ends[1], ends[2]]
    train_steps = [s.step for s in acc.Scalars("train/loss_total")]
    assert train_steps == [s["global_step"] for s in steps] and {ends[1], ends[2]} <= set(train_steps)
    test = next(e for e in evs if e["type"] == "eval" and e["split"] == "test")
    assert [s.step for s in acc.Scalars("test/acc")] == [ends[test["epoch"]]]
    epoch = acc.Scalars("epoch")
    assert [(s.step, s.value) for s in epoch] == [(s["global_step"], s["epoch"]) for s in steps]


def test_the_run_is_named_after_its_folder(tiny_run: Path) -> None:
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    runs_dir = tiny_run.parents[1]
    mux = EventMultiplexer().AddRunsFromDirectory(str(runs_dir))
    assert set(mux.Runs()) == {f"tiny_mfeat/{tiny_run.name}"}


def test_hparams_hold_the_methods_keys_and_test_metrics(acc) -> None:
    keys = _hparams_data(acc, "_hparams_/session_start_info").session_start_info.hparams
    assert keys["method.name"].string_value == "lfm"
    assert keys["alpha.strategy"].string_value == "heuristic"
    assert keys["optim.lr"].number_value == pytest.approx(0.002)
    assert keys["train.epochs"].number_value == 2
    assert keys["data.modalities"].string_value == "[pix, mor]"
    assert {"model.encoders.pix.kind", "model.encoders.mor.hidden", "loss.temperature"} <= set(keys)
    # another method's table, unused encoders, options of other datasets and alpha strategies
    assert not [k for k in keys if k.startswith(("method.ogm_ge", "method.pmr", "model.encoders.fac",
                                                   "data.frames", "data.thumbnail", "alpha.coefficients"))]
    assert len(keys) < 30
    metrics = {m.name.tag for m in _hparams_data(acc, "_hparams_/experiment").experiment.metric_infos}
    assert {"best/acc", "best/f1", "test/acc", "test/loss", "test/acc_pix", "test/acc_mor"} <= metrics
    assert metrics <= set(acc.Tags()["scalars"])  # each metric has the scalar TensorBoard shows


@pytest.mark.parametrize("overrides, present, absent", [
    (["method.name=ogm_ge"], {"method.ogm_ge.alpha", "method.ogm_ge.noise"},
     {"alpha.strategy", "loss.temperature", "model.projection_dim", "method.pmr.alpha"}),
    (["method.name=unimodal", "method.modality=pix"], {"method.modality", "model.encoders.pix.kind"},
     {"model.encoders.mor.kind", "alpha.strategy"}),
    (["alpha.strategy=learned", "optim.name=sgd", "schedule.name=step"],
     {"alpha.hypergradient", "alpha.terms", "optim.momentum", "schedule.step_size"}, {"alpha.value"}),
])
def test_hparams_follow_the_method_and_strategy(overrides, present, absent) -> None:
    keys = run_hparams(recipes.to_dict(recipes.load(RECIPES / "mfeat.toml", overrides)))
    assert present <= set(keys), present - set(keys)
    assert not absent & set(keys)
    assert all(isinstance(v, (bool, int, float, str)) for v in keys.values())


def test_confusion_images_of_the_fused_model_and_each_modality(tiny_run: Path, acc) -> None:
    from PIL import Image

    evs = _events(tiny_run)
    ends = {e["epoch"]: e["global_step"] for e in evs if e["type"] == "step" and e["step"] == evs[0]["steps_per_epoch"]}
    evals = [e for e in evs if e["type"] == "eval"]
    assert len(evs[0]["classes"]) == 10
    for e in evals:  # the matrices the event carries count every sample, the diagonal is the accuracy
        for head, matrix in e["confusion"].items():
            total = sum(map(sum, matrix))
            assert total == e["samples"]
            right = sum(matrix[i][i] for i in range(10))
            acc_ = e["fused"]["acc"] if head == "fused" else e["modalities"][head]["acc"]
            assert 100.0 * right / total == pytest.approx(acc_)
    images = set(acc.Tags()["images"])
    for split, count in (("val", 2), ("test", 1)):
        for tag in (f"{split}/confusion", f"{split}/confusion_pix", f"{split}/confusion_mor"):
            assert tag in images, tag
            got = acc.Images(tag)
            assert len(got) == count
            steps = [ends[e["epoch"]] for e in evals if e["split"] == split]
            assert [g.step for g in got] == steps
            side = 520  # class names, a title and a colour bar: counts (test) or shares (validation)
            for g in got:
                png = Image.open(io.BytesIO(g.encoded_image_string))
                assert png.format == "PNG" and png.size == (side, side) == (g.width, g.height)
    assert confusion.image_size(10) == 520


def test_the_recipe_as_text(tiny_run: Path, acc) -> None:
    text = acc.Tensors("recipe/text_summary")[0].tensor_proto.string_val[0].decode()
    assert text.startswith("```toml\n") and text.endswith("\n```")
    body = text[len("```toml\n"):-len("\n```")]
    assert body == (tiny_run / layout.RECIPE).read_text().rstrip()
    assert tomllib.loads(body)["optim"]["lr"] == pytest.approx(0.002)  # after the override


def _sink(tmp_path: Path, purge_step: int | None = None):
    from engine.review.sinks import TensorBoardSink

    sink = TensorBoardSink(tmp_path, {"method.name": "lfm"}, "name = 'x'", purge_step=purge_step)
    sink.on_run_started(make("run_started", run_name="x", recipe={}, recipe_name="x", dataset="mfeat", modalities=["a", "b"],
              run_dir=str(tmp_path), epochs=2, steps_per_epoch=5,
              resumed_from=None if purge_step is None else {"epoch": 2, "step": 0}, classes=["p", "q"]))
    return sink


def _steps(sink, steps, value: float) -> None:
    for gs in steps:
        epoch, step = (gs - 1) // 5 + 1, (gs - 1) % 5 + 1
        sink.on_step(make("step", epoch=epoch, step=step, global_step=gs, losses={"total": value * gs}, alpha=0.5,
                  lr=0.1, samples_per_s=10.0))


def _eval(sink, split: str, epoch: int) -> None:
    sink.on_eval(make("eval", split=split, epoch=epoch, loss=0.5, fused={"acc": 50.0}, modalities={"a": {"acc": None}},
              gap=None, modality_gap=0.1,
              confusion={"fused": [[1, 1], [0, 2]], "a": [[1, -1], [0, 2]], "b": [[1, 1]]}))


def test_a_resumed_run_replaces_what_followed_its_checkpoint(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing import event_accumulator as ea

    first = _sink(tmp_path)        # epoch 1, then killed in epoch 2 after its checkpoint at step 5
    _steps(first, range(1, 6), 1.0)
    _eval(first, "val", 1)
    _steps(first, range(6, 9), 1.0)
    first.close()
    again = _sink(tmp_path, purge_step=6)  # resumed from step 5
    _steps(again, range(6, 11), 2.0)
    _eval(again, "val", 2)
    _eval(again, "test", 1)  # epoch 1 ended before this writer began: at 1 x steps_per_epoch
    again.close()
    a = ea.EventAccumulator(str(tmp_path), size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
    a.Reload()
    loss = a.Scalars("train/loss_total")
    assert [(s.step, s.value) for s in loss] == [(g, float(g if g < 6 else 2 * g)) for g in range(1, 11)]
    assert len(a.Tensors("recipe/text_summary")) == 1  # a resumed run does not write it again
    assert [s.step for s in a.Scalars("val/acc")] == [5, 10]
    assert [s.step for s in a.Scalars("test/acc")] == [5]
    # metrics of None and malformed matrices are left out
    assert "val/acc_a" not in a.Tags()["scalars"] and "val/accuracy_gap" not in a.Tags()["scalars"]
    assert set(a.Tags()["images"]) == {"val/confusion", "test/confusion"}
    side = confusion.image_size(2)
    assert [(i.step, i.width) for i in a.Images("val/confusion")] == [(5, side), (10, side)]
