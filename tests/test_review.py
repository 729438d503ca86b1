"""Review figures (engine/review/figures.py): the embedding gap in TensorBoard's projector, as a scalar
and as a picture; Grad-CAM of the convolutional encoders; the [review] recipe keys."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import RECIPES, run_engine, train_in_process

GAP_SAMPLES = 120
PER_CLASS = 2


@pytest.fixture(scope="module")
def emoji_run(tmp_path_factory) -> Path:
    """Two epochs of emoji (a CNN on the image), the gap also after each epoch, Grad-CAM also
    after the first and the last."""
    from engine.contract import recipe as recipes
    run_dir = tmp_path_factory.mktemp("review") / "emoji"
    r = recipes.load(RECIPES / "emoji.toml", ["train.epochs=2", "train.threads=1", "review.gap_every=1",
                                              "review.gradcam_epochs=[1,-1]",
                                              f"review.gap_samples={GAP_SAMPLES}",
                                              f"review.gradcam_per_class={PER_CLASS}"])
    code, summary = train_in_process(run_dir, r)
    assert code == 0 and summary["status"] == "ok"
    return run_dir


@pytest.fixture(scope="module")
def mfeat_run(tmp_path_factory) -> Path:
    """One epoch of mfeat: vector views through MLP encoders."""
    from engine.contract import recipe as recipes
    run_dir = tmp_path_factory.mktemp("review") / "mfeat"
    r = recipes.load(RECIPES / "mfeat.toml", ["train.epochs=1", "train.threads=1", "review.gap_samples=50",
                                              "review.gradcam_epochs=[-1]"])
    code, _ = train_in_process(run_dir, r)
    assert code == 0
    return run_dir


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def started(run_dir: Path) -> dict:
    [ev] = [e for e in events(run_dir) if e["type"] == "run_started"]
    return ev


def best_epoch(run_dir: Path) -> int:
    return json.loads((run_dir / "summary.json").read_text())["best"]["epoch"]


def end_of(run_dir: Path, epoch: int) -> int:
    """The global step at the end of `epoch`: TensorBoard's x-axis."""
    return epoch * started(run_dir)["steps_per_epoch"]


def tb_dir(run_dir: Path) -> Path:
    from engine.contract import layout
    return layout.tensorboard_dir(run_dir)


def projector(run_dir: Path) -> dict[str, tuple[np.ndarray, list[list[str]]]]:
    """tensor name -> (the embedding's rows, its metadata with the header first), as the
    projector reads them (projector_config.pbtxt, tensors.tsv, metadata.tsv)."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    logdir = tb_dir(run_dir)
    config = text_format.Parse((logdir / "projector_config.pbtxt").read_text(), ProjectorConfig())
    out = {}
    for e in config.embeddings:
        mat = np.loadtxt(logdir / e.tensor_path, delimiter="\t", ndmin=2)
        meta = [line.split("\t") for line in (logdir / e.metadata_path).read_text().splitlines()]
        out[e.tensor_name] = (mat, meta)
    return out


def tensorboard_entries(run_dir: Path) -> tuple[dict[str, list], dict[str, list]]:
    """Every event file's scalars and images (tag -> events), read with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, list] = {}
    images: dict[str, list] = {}
    for f in sorted(tb_dir(run_dir).glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(acc.Scalars(tag))
        for tag in acc.Tags()["images"]:
            images.setdefault(tag, []).extend(acc.Images(tag))
    return scalars, images


def distinct_colours(path: Path) -> int:
    img = Image.open(path).convert("RGB")
    return len(img.getcolors(maxcolors=img.width * img.height))


# ---------------------------------------------------------------- the embedding gap
def test_gap_picture_is_written_and_not_blank(emoji_run) -> None:
    for name in ("gap.png", "gap-epoch001.png", "gap-epoch002.png"):
        path = emoji_run / "figures" / name
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size == (1000, 400)  # two panels and the classes beside the second
        assert distinct_colours(path) > 50  # two coloured clouds, text and axes, not a blank canvas


def test_projector_holds_each_modality_of_the_sample(emoji_run) -> None:
    emb = projector(emoji_run)
    best, step = best_epoch(emoji_run), lambda epoch: end_of(emoji_run, epoch)
    assert set(emb) == {f"embedding_gap:{step(1):05d}", f"embedding_gap:{step(2):05d}",
                        f"embedding_gap_best:{step(best):05d}"}
    class_names = started(emoji_run)["classes"]
    for mat, meta in emb.values():
        assert mat.shape == (2 * GAP_SAMPLES, 64)  # the 64-wide projections, both modalities
        assert np.allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5)  # normalised
        assert meta[0] == ["modality", "class"]
        rows = meta[1:]
        assert len(rows) == 2 * GAP_SAMPLES
        assert [r[0] for r in rows] == ["image"] * GAP_SAMPLES + ["text"] * GAP_SAMPLES
        assert {r[1] for r in rows} <= set(class_names) and len({r[1] for r in rows}) == len(class_names)
        assert [r[1] for r in rows[:GAP_SAMPLES]] == [r[1] for r in rows[GAP_SAMPLES:]]  # the same samples


def test_centroid_distance_scalar_equals_the_saved_features(emoji_run) -> None:
    best = end_of(emoji_run, best_epoch(emoji_run))
    mat, meta = projector(emoji_run)[f"embedding_gap_best:{best:05d}"]
    modality = np.array([r[0] for r in meta[1:]])
    expected = float(np.linalg.norm(mat[modality == "image"].mean(0) - mat[modality == "text"].mean(0)))
    assert 0.01 < expected < 2.0
    scalars, _ = tensorboard_entries(emoji_run)
    [final] = scalars["review/embedding_gap_best"]
    assert final.step == best
    assert final.value == pytest.approx(expected, abs=1e-5)
    assert [s.step for s in scalars["review/embedding_gap"]] == [end_of(emoji_run, 1), end_of(emoji_run, 2)]
    logged = [e["message"] for e in events(emoji_run) if e["type"] == "log" and "centroid distance" in e["message"]]
    assert len(logged) == 3 and f"{expected:.4f}" in logged[-1]
    assert logged[-1].startswith(f"review: embedding gap (test, projection embeddings, n={GAP_SAMPLES}), "
                                 f"best checkpoint, epoch {best_epoch(emoji_run)}: centroid distance")


def test_tensorboard_holds_the_review_images(emoji_run) -> None:
    _, images = tensorboard_entries(emoji_run)
    [gap] = images["review/embedding_gap_picture_best"]
    assert (gap.width, gap.height) == (1000, 400)
    assert [i.step for i in images["review/embedding_gap_picture"]] == [end_of(emoji_run, 1), end_of(emoji_run, 2)]
    cams = images["review/gradcam_image"]   # epochs 1 and 2; the best checkpoint is one of them: not again
    assert best_epoch(emoji_run) in (1, 2)
    assert [c.step for c in cams] == [end_of(emoji_run, 1), end_of(emoji_run, 2)]
    assert {(c.width, c.height) for c in cams} == {(PER_CLASS * (450 + 4), 9 * (215 + 4))}  # a row per class
    assert "review/gradcam_text" not in images


def test_tensorboards_server_lists_every_tag_the_run_wrote(emoji_run) -> None:
    """Read through the data provider TensorBoard's server answers its pages with (not only the
    event reader): a tag written both as a scalar and as an image is listed by neither plugin."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard import context

    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(emoji_run.parent))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(emoji_run.parent))
    ctx = context.RequestContext()
    served = {**{t: "scalars" for run in provider.list_scalars(ctx, experiment_id="", plugin_name="scalars").values()
                 for t in run},
              **{t: "images" for run in provider.list_blob_sequences(ctx, experiment_id="", plugin_name="images").values()
                 for t in run}}
    scalars, images = tensorboard_entries(emoji_run)
    written = {**{t: "scalars" for t in scalars}, **{t: "images" for t in images}}
    assert written and {t: served.get(t) for t in written} == written
    assert not set(scalars) & set(images)
    for tag in ("review/embedding_gap", "review/embedding_gap_best", "val/accuracy_gap", "val/feature_gap",
                "test/accuracy_gap", "test/feature_gap"):
        assert served[tag] == "scalars"
    assert served["review/embedding_gap_picture_best"] == "images"
    assert not any("modality_gap" in t or t.endswith("/gap") for t in served)  # the old, ambiguous names


def test_the_run_folder_has_no_unexplained_folders_and_the_projector_reads_its_entries(emoji_run) -> None:
    """The projector's files live under `projector/<tag>-step<N>/` (not `00252/` beside the run's
    files), and TensorBoard's projector plugin finds every entry of the run there."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
    from werkzeug.test import Client

    folders = sorted(p.name for p in emoji_run.iterdir() if p.is_dir())
    assert folders == ["checkpoints", "figures", "projector"]
    best = end_of(emoji_run, best_epoch(emoji_run))
    assert sorted(p.name for p in (emoji_run / "projector").iterdir()) == sorted(
        {f"embedding_gap-step{end_of(emoji_run, 1)}", f"embedding_gap-step{end_of(emoji_run, 2)}",
         f"embedding_gap_best-step{best}"})
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(emoji_run.parent))
    mux.Reload()
    plugin = ProjectorPlugin(base_plugin.TBContext(
        logdir=str(emoji_run.parent), multiplexer=mux,
        data_provider=data_provider.MultiplexerDataProvider(mux, str(emoji_run.parent))))
    plugin._update_configs()
    [(run, config)] = plugin._configs.items()
    assert run == emoji_run.name
    names = {e.tensor_name for e in config.embeddings}
    assert f"embedding_gap_best:{best:05d}" in names and len(names) == 3
    client = Client(plugin.get_plugin_apps()["/tensor"])
    for e in config.embeddings:   # as the projector's page asks for it: float32 rows
        served = client.get("/tensor", query_string={"run": run, "name": e.tensor_name})
        assert served.status_code == 200 and len(served.data) == 2 * GAP_SAMPLES * 64 * 4


# ---------------------------------------------------------------- Grad-CAM
def test_gradcam_per_class_for_the_cnn_encoder(emoji_run) -> None:
    pngs = sorted((emoji_run / "figures" / "gradcam" / "image").glob("*.png"))
    assert len(pngs) == 9 * PER_CLASS  # 9 classes, each with more than 2 test samples
    assert [p.name for p in pngs[:2]] == ["000-Activities-1.png", "000-Activities-2.png"]
    assert not (emoji_run / "figures" / "gradcam" / "text").exists()  # the text encoder is an MLP
    with Image.open(pngs[0]) as img:
        assert img.size == (450, 215)  # input | heat map, 160 pixels a side, colour bar, classes as title
    assert distinct_colours(pngs[0]) > 50
    assert (emoji_run / "figures" / "gradcam" / "image.png").is_file()
    [line] = [e["message"] for e in events(emoji_run) if e["type"] == "log" and "Grad-CAM" in e["message"]
              and "best checkpoint" in e["message"]]
    assert "last convolution (features.8)" in line and f"{9 * PER_CLASS} test samples" in line


def test_gradcam_of_the_epochs_asked_for(emoji_run) -> None:
    """review.gradcam_epochs = [1, -1] on two epochs: a figure after epochs 1 and 2, the same test
    samples (the same layout, the same inputs) on different weights (different heat maps)."""
    figures = emoji_run / "figures"
    assert sorted(p.name for p in figures.glob("gradcam-epoch*.png")) == ["gradcam-epoch001.png",
                                                                          "gradcam-epoch002.png"]
    assert sorted(p.name for p in (figures / "gradcam").glob("image-epoch*.png")) == ["image-epoch001.png",
                                                                                      "image-epoch002.png"]
    first, last = (np.asarray(Image.open(figures / f"gradcam-epoch00{e}.png").convert("RGB")) for e in (1, 2))
    w, h = 450 + 4, 215 + 4   # a panel and its gap; a row per class
    assert first.shape == last.shape == (9 * h, PER_CLASS * w, 3)
    assert np.array_equal(first, np.asarray(Image.open(figures / "gradcam" / "image-epoch001.png").convert("RGB")))
    # each panel: the input (left), the heat map over it (right): the inputs alike, the heat maps not
    panels = [(r * h, c * w) for r in range(9) for c in range(PER_CLASS)]
    inputs = [(first[y + 35:y + 185, x + 25:x + 175], last[y + 35:y + 185, x + 25:x + 175]) for y, x in panels]
    maps = [(first[y + 35:y + 185, x + 232:x + 385], last[y + 35:y + 185, x + 232:x + 385]) for y, x in panels]
    assert all(np.array_equal(a, b) for a, b in inputs)
    assert sum(not np.array_equal(a, b) for a, b in maps) == len(panels)
    assert distinct_colours(figures / "gradcam-epoch001.png") > 50
    logged = [e for e in events(emoji_run) if e["type"] == "log" and "Grad-CAM" in e["message"]]
    assert [("epoch 1)" in e["message"], "epoch 2)" in e["message"]) for e in logged[:2]] == [(True, False),
                                                                                              (False, True)]
    assert all("gradcam-epoch00" in e["message"] for e in logged[:2])


def test_the_review_during_training_leaves_the_trained_model_as_it_is(emoji_run, tmp_path) -> None:
    """Grad-CAM and the modality gap after each epoch neither draw random numbers of the run nor
    touch its weights: the same recipe without any review tests to the same numbers."""
    from engine.contract import recipe as recipes
    r = recipes.load(RECIPES / "emoji.toml", ["train.epochs=2", "train.threads=1", "review.gap_samples=0",
                                              "review.gradcam=false"])
    code, plain = train_in_process(tmp_path / "plain", r)
    assert code == 0 and not (tmp_path / "plain" / "figures").exists()
    assert plain["test"] == json.loads((emoji_run / "summary.json").read_text())["test"]


def test_gradcam_skipped_without_a_convolutional_encoder(mfeat_run) -> None:
    assert not (mfeat_run / "figures" / "gradcam").exists()
    lines = [e["message"] for e in events(mfeat_run) if e["type"] == "log" and "Grad-CAM" in e["message"]]
    assert lines == ["review: Grad-CAM skipped: no convolutional encoder (pix: mlp, mor: mlp); it shows the "
                     "encoders cnn, resnet18, resnet50 of image, spectrogram or video inputs"]
    assert "Grad-CAM skipped" in (mfeat_run / "engine.log").read_text()
    assert (mfeat_run / "figures" / "gap.png").is_file()  # the gap needs no convolution
    assert not (mfeat_run / "figures" / "gap-epoch001.png").exists()  # gap_every = 0: the end only


# ---------------------------------------------------------------- the [review] keys
@pytest.mark.parametrize("override, message", [
    ("review.gap_sample=5", "review.gap_sample: unknown key (did you mean 'review.gap_samples'?)"),
    ("review.gradcam=3", "review.gradcam: expected true or false, found 3"),
    ("review.gap_every=-1", "review.gap_every: expected a value >= 0, found -1"),
    ("review.gradcam_per_class=0", "review.gradcam_per_class: expected a value >= 1, found 0"),
    ("review.gap_projection=tsne", "review.gap_projection: expected one of 'pca', 'umap', found 'tsne'"),
    ("review.gradcam_epochs=[1,0]",
     "review.gradcam_epochs[1]: expected an epoch from 1 to train.epochs (30), or -1 for the last, found 0"),
    ("review.gradcam_epochs=[31]",
     "review.gradcam_epochs[0]: expected an epoch from 1 to train.epochs (30), or -1 for the last, found 31"),
    ("review.gradcam_epochs=[-2]",
     "review.gradcam_epochs[0]: expected an epoch from 1 to train.epochs (30), or -1 for the last, found -2"),
    ("review.gradcam_epochs=[1.5]", "review.gradcam_epochs[0]: expected an integer, found 1.5"),
    ("review.gradcam_epochs=7", "review.gradcam_epochs: expected a list of an integer, found 7"),
])
def test_review_keys_are_validated(override, message) -> None:
    from engine.contract import recipe as recipes
    with pytest.raises(recipes.RecipeError) as err:
        recipes.load(RECIPES / "mfeat.toml", [override])
    assert message in err.value.render()


def test_umap_without_umap_learn_is_a_clear_error(monkeypatch) -> None:
    from engine.contract import recipe as recipes
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "umap" else real(name, *a))
    with pytest.raises(recipes.RecipeError) as err:
        recipes.load(RECIPES / "mfeat.toml", ["review.gap_projection=umap"])
    assert err.value.problems == ["review.gap_projection: 'umap' needs the umap-learn package, which is not "
                                  "installed (pip install umap-learn); or use 'pca'"]
    assert recipes.load(RECIPES / "mfeat.toml", ["review.gap_projection=pca"]).review.gap_projection == "pca"


@pytest.mark.skipif(importlib.util.find_spec("umap") is not None, reason="umap-learn is installed here")
def test_engine_refuses_umap_without_umap_learn(tmp_path) -> None:
    res = run_engine([str(RECIPES / "mfeat.toml"), "review.gap_projection=umap", "--runs-dir", str(tmp_path)],
                     cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 2
    assert "review.gap_projection: 'umap' needs the umap-learn package" in res.stderr
    assert "Traceback" not in res.stderr and not any(tmp_path.iterdir())


def test_gradcam_of_video_frames_and_spectrograms() -> None:
    """Video (frames through one 2-D encoder) and one-channel spectrograms (ResNet18): a map at
    each input's resolution, every frame's, and a panel of the middle frame."""
    import types

    import torch

    from engine.review import gradcam as rc
    from engine.models.encoders import MLP, FramesPooled, ResNet18Small, SmallCNN
    from engine.models.multimodal import MultimodalModel

    torch.manual_seed(0)
    enc = {"video": FramesPooled(SmallCNN(3, (4, 8), 16)), "audio": ResNet18Small(1, 32, 16), "t": MLP(5, (8,), 16)}
    model = MultimodalModel(("video", "audio", "t"), enc, 16, 3, "concat", 8)
    ctx = types.SimpleNamespace(model=model)
    inputs = {"video": torch.randn(4, 3, 3, 16, 16), "audio": torch.randn(4, 1, 32, 40), "t": torch.randn(4, 5)}
    labels = torch.tensor([0, 1, 2, 0])
    assert rc.conv_layer(enc["audio"]) is enc["audio"].net.layer4[1].conv2
    assert rc.conv_layer(enc["t"]) is None
    cam, pred = rc.attributions(ctx, "video", rc.conv_layer(enc["video"]), inputs, labels)
    assert cam.shape == (4, 3, 16, 16) and pred.shape == (4,) and float(cam.min()) >= 0.0
    assert rc.panel(inputs["video"][0], cam[0], "x").shape == (215, 450, 3)  # as a 32 x 32 image's
    cam, _ = rc.attributions(ctx, "audio", rc.conv_layer(enc["audio"]), inputs, labels)
    assert cam.shape == (4, 32, 40) and float(cam.max()) > 0.0
    assert model.training  # the model's mode is given back


def test_a_resumed_run_keeps_the_earlier_projector_entries(tmp_path) -> None:
    """The projector's config is rewritten whole by each writer: a resumed run's review starts
    from the entries the stopped process wrote; a damaged file counts as none."""
    from engine.review.figures import earlier_projector_config

    (tmp_path / "projector_config.pbtxt").write_text(
        'embeddings {\n  tensor_name: "embedding_gap:00030"\n  tensor_path: "projector/embedding_gap-step30/tensors.tsv"\n}\n')
    assert [e.tensor_name for e in earlier_projector_config(tmp_path).embeddings] == ["embedding_gap:00030"]
    (tmp_path / "projector_config.pbtxt").write_bytes(b"embeddings { tensor_name: \xff\x00 ")
    assert len(earlier_projector_config(tmp_path).embeddings) == 0
    assert len(earlier_projector_config(tmp_path / "absent").embeddings) == 0
