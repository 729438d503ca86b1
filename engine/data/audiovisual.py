"""Audio-video datasets in the layouts the community's loaders expect: CREMA-D, Kinetics-Sounds
(the OGM-GE text lists, and the CSV layout with class names), VGGSound.

Each `scan_*` reads the annotation files and says where every sample's audio and frames are;
`engine.data.disk` turns that into spectrograms and frames through the prepared cache.
"""
from __future__ import annotations

from pathlib import Path

from engine.data.manifest import (LayoutError, Manifest, Sample, Source, class_index, csv_rows,
                                  dir_has, first_dir, require_root)
from engine.contract.data_folders import CREMAD_LAYOUT, KS_LAYOUT, VGGSOUND_LAYOUT  # the layouts, shared with the UI

CREMAD_CLASSES = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]  # label indices 0..5 as the community uses

AUDIO_DIRS = ["audio", "audio_feature", "fbank", "AudioWAV"]
FRAME_DIRS = ["visual", "frames", "Image-01-FPS"]


def _audio_source(folder: Path, clip: str, fbank: bool) -> Source:
    return Source("fbank", str(folder / f"{clip}.npy")) if fbank else Source("wav", str(folder / f"{clip}.wav"))


# ----------------------------------------------------------------------------- CREMA-D

def scan_cremad(root: Path, modalities=("audio", "video")) -> Manifest:
    require_root("cremad", root, CREMAD_LAYOUT)
    for folder in (root / "annotations", root):
        if (folder / "train.csv").is_file() and (folder / "test.csv").is_file():
            files = {"train": folder / "train.csv", "test": folder / "test.csv"}
            break
    else:
        raise LayoutError(f"cremad: {root}: no annotation files found; expected {CREMAD_LAYOUT}")
    audio_dir = first_dir(root, ["AudioWAV", "audio"])
    frame_dir = first_dir(root, ["Image-01-FPS", "visual"])
    video_dir = first_dir(root, ["VideoFlash"])
    if "audio" in modalities and audio_dir is None:
        raise LayoutError(f"cremad: {root / 'AudioWAV'}: audio folder missing (also looked for audio/); "
                          f"expected {CREMAD_LAYOUT}")
    if "video" in modalities and frame_dir is None and video_dir is None:
        raise LayoutError(f"cremad: {root / 'Image-01-FPS'}: frame folder missing (also looked for visual/ "
                          f"and VideoFlash/); expected {CREMAD_LAYOUT}")
    index = class_index(CREMAD_CLASSES)
    samples = []
    for split, path in files.items():
        for n, row in enumerate(csv_rows(path), 1):
            if len(row) < 2 or row[1].strip() not in index:
                raise LayoutError(f"cremad: {path} line {n}: expected `<clip id>,<emotion>` with the emotion "
                                  f"one of {', '.join(CREMAD_CLASSES)}, found {','.join(row)!r}")
            clip = row[0].strip()
            src = {}
            if audio_dir is not None:
                src["audio"] = Source("wav", str(audio_dir / f"{clip}.wav"))
            if frame_dir is not None:
                src["video"] = Source("frames", str(frame_dir / clip))
            elif video_dir is not None:
                src["video"] = Source("video_1fps", str(video_dir / f"{clip}.flv"))
            samples.append(Sample(clip, index[row[1].strip()], split, src))
    what = "frames" if frame_dir is not None else "videos at 1 fps"
    layout = (f"CREMA-D: {files['train'].relative_to(root)}, {files['test'].relative_to(root)}; "
              f"audio {audio_dir.name if audio_dir else '-'}/, {what} "
              f"{(frame_dir or video_dir).name if (frame_dir or video_dir) else '-'}/")
    return Manifest("cremad", layout, root, list(CREMAD_CLASSES), samples, list(files.values()))


# ----------------------------------------------------------------------------- Kinetics-Sounds

def _ogm_lists(root: Path) -> dict[str, Path] | None:
    if not ((root / "my_train.txt").is_file() and (root / "my_test.txt").is_file()):
        return None
    files = {"train": root / "my_train.txt"}
    for name in ("my_val.txt", "my_valid.txt"):
        if (root / name).is_file():
            files["val"] = root / name
            break
    files["test"] = root / "my_test.txt"
    return files


def _scan_ogm(dataset: str, root: Path, files: dict[str, Path], modalities, layout_text: str) -> Manifest:
    audio_dir = first_dir(root, AUDIO_DIRS)
    frame_dir = first_dir(root, FRAME_DIRS)
    if "audio" in modalities and audio_dir is None:
        raise LayoutError(f"{dataset}: {root / 'audio'}: audio folder missing (also looked for "
                          f"{', '.join(d + '/' for d in AUDIO_DIRS[1:])}); expected {layout_text}")
    if "video" in modalities and frame_dir is None:
        raise LayoutError(f"{dataset}: {root / 'visual'}: frame folder missing (also looked for "
                          f"{', '.join(d + '/' for d in FRAME_DIRS[1:])}); expected {layout_text}")
    fbank = audio_dir is not None and dir_has(audio_dir, ".npy")
    rows = []
    for split, path in files.items():
        for n, row in enumerate(csv_rows(path), 1):
            try:
                rows.append((split, row[0].strip(), int(row[1])))
            except (IndexError, ValueError):
                raise LayoutError(f"{dataset}: {path} line {n}: expected `<clip id>,<label index>,...`, "
                                  f"found {','.join(row)!r}") from None
    labels = sorted({r[2] for r in rows})
    index = class_index([str(v) for v in labels])
    samples = []
    for split, clip, label in rows:
        src = {}
        if audio_dir is not None:
            src["audio"] = _audio_source(audio_dir, clip, fbank)
        if frame_dir is not None:
            src["video"] = Source("frames", str(frame_dir / clip))
        samples.append(Sample(clip, index[str(label)], split, src))
    layout = (f"OGM-GE lists ({', '.join(p.name for p in files.values())}); audio "
              f"{audio_dir.name if audio_dir else '-'}/ as {'fbank .npy' if fbank else 'wav'}, frames "
              f"{frame_dir.name if frame_dir else '-'}/")
    return Manifest(dataset, layout, root, list(index), samples, list(files.values()))


def _scan_lab(dataset: str, root: Path, modalities) -> Manifest:
    ann = root / "annotations"
    files = {"train": ann / "train.csv"}
    for name in ("val.csv", "valid.csv"):
        if (ann / name).is_file():
            files["val"] = ann / name
            break
    files["test"] = ann / "test.csv"
    rows = []
    for split, path in files.items():
        table = csv_rows(path)
        if not table or [c.strip() for c in table[0][:2]] != ["youtube_id", "label"]:
            raise LayoutError(f"{dataset}: {path}: expected the header `youtube_id,label`, found "
                              f"{','.join(table[0]) if table else 'an empty file'!r}")
        for n, row in enumerate(table[1:], 2):
            if len(row) < 2 or not row[1].strip():
                raise LayoutError(f"{dataset}: {path} line {n}: expected `<youtube id>,<class name>`, "
                                  f"found {','.join(row)!r}")
            rows.append((split, row[0].strip(), row[1].strip()))
    index = class_index(sorted({r[2] for r in rows}))
    prefix = {"train": "train", "val": files.get("val", Path("val")).stem, "test": "test"}
    for split in files:
        p = prefix[split]
        if "audio" in modalities and not (root / f"{p}_wav").is_dir():
            raise LayoutError(f"{dataset}: {root / f'{p}_wav'}: audio folder missing; expected {KS_LAYOUT}")
        if "video" in modalities and not (root / f"{p}_img" / "Image-01-FPS").is_dir():
            raise LayoutError(f"{dataset}: {root / f'{p}_img' / 'Image-01-FPS'}: frame folder missing; "
                              f"expected {KS_LAYOUT}")
    samples = [Sample(clip, index[name], split,
                      {"audio": Source("wav", str(root / f"{prefix[split]}_wav" / f"{clip}.wav")),
                       "video": Source("frames", str(root / f"{prefix[split]}_img" / "Image-01-FPS" / clip))})
               for split, clip, name in rows]
    layout = f"annotations/{{{','.join(p.stem for p in files.values())}}}.csv with class names; <split>_wav/, <split>_img/Image-01-FPS/"
    return Manifest(dataset, layout, root, list(index), samples, list(files.values()))


def scan_kinetics_sounds(root: Path, modalities=("audio", "video")) -> Manifest:
    require_root("kinetics_sounds", root, KS_LAYOUT)
    files = _ogm_lists(root)
    if files is not None:
        return _scan_ogm("kinetics_sounds", root, files, modalities, KS_LAYOUT)
    if (root / "annotations" / "train.csv").is_file() and (root / "annotations" / "test.csv").is_file():
        return _scan_lab("kinetics_sounds", root, modalities)
    raise LayoutError(f"kinetics_sounds: {root}: no annotation files found; expected {KS_LAYOUT}")


# ----------------------------------------------------------------------------- VGGSound

def scan_vggsound(root: Path, modalities=("audio", "video")) -> Manifest:
    require_root("vggsound", root, VGGSOUND_LAYOUT)
    path = root / "vggsound.csv"
    if not path.is_file():
        raise LayoutError(f"vggsound: {path}: annotation file missing; expected {VGGSOUND_LAYOUT}")
    rows = []
    for n, row in enumerate(csv_rows(path), 1):
        if n == 1 and row and row[0].strip() == "youtube_id":
            continue  # a header some copies add
        try:
            yid, start, name, split = row[0].strip(), int(row[1]), row[2].strip(), row[3].strip()
        except (IndexError, ValueError):
            raise LayoutError(f"vggsound: {path} line {n}: expected `youtube_id,start,label,split`, "
                              f"found {','.join(row)!r}") from None
        if split not in ("train", "test"):
            raise LayoutError(f"vggsound: {path} line {n}: expected the split `train` or `test`, found {split!r}")
        rows.append((split, f"{yid}_{start:06d}", name))
    index = class_index(sorted({r[2] for r in rows}))
    audio_dir, frame_dir = first_dir(root, AUDIO_DIRS), first_dir(root, FRAME_DIRS)
    lab = audio_dir is None and frame_dir is None and (root / "train_wav").is_dir()
    if not lab:
        if "audio" in modalities and audio_dir is None:
            raise LayoutError(f"vggsound: {root / 'audio'}: audio folder missing (also looked for "
                              f"train_wav/); expected {VGGSOUND_LAYOUT}")
        if "video" in modalities and frame_dir is None:
            raise LayoutError(f"vggsound: {root / 'visual'}: frame folder missing; expected {VGGSOUND_LAYOUT}")
    fbank = audio_dir is not None and dir_has(audio_dir, ".npy")
    samples = []
    for split, clip, name in rows:
        if lab:
            src = {"audio": Source("wav", str(root / f"{split}_wav" / f"{clip}.wav")),
                   "video": Source("frames", str(root / f"{split}_img" / "Image-01-FPS" / clip))}
        else:
            src = {}
            if audio_dir is not None:
                src["audio"] = _audio_source(audio_dir, clip, fbank)
            if frame_dir is not None:
                src["video"] = Source("frames", str(frame_dir / clip))
        samples.append(Sample(clip, index[name], split, src))
    layout = ("vggsound.csv; " + ("<split>_wav/, <split>_img/Image-01-FPS/" if lab else
              f"audio {audio_dir.name if audio_dir else '-'}/ as {'fbank .npy' if fbank else 'wav'}, "
              f"frames {frame_dir.name if frame_dir else '-'}/"))
    return Manifest("vggsound", layout, root, list(index), samples, [path])
