"""Image-text datasets in the layouts their users have: Sarcasm (the TSV layout and the raw
`text_data` release) and Twitter2015 (the original TSV with the `$T$` target placeholder, and
the copies with renamed columns)."""
from __future__ import annotations

import ast
import csv
from pathlib import Path

from engine.data.manifest import LayoutError, Manifest, Sample, Source, csv_rows, first_dir, read_text, require_root
from engine.contract.data_folders import SARCASM_LAYOUT, TWITTER_LAYOUT  # the layouts, shared with the UI

SARCASM_CLASSES = ["not sarcastic", "sarcastic"]
TWITTER_CLASSES = ["negative", "neutral", "positive"]


def _image_path(folder: Path, image_id: str) -> str:
    return str(folder / (image_id if Path(image_id).suffix else f"{image_id}.jpg"))


def _label(value: str, n_classes: int, where: str) -> int:
    try:
        y = int(str(value).strip())
    except ValueError:
        y = -1
    if not 0 <= y < n_classes:
        raise LayoutError(f"{where}: expected a label 0..{n_classes - 1}, found {value!r}")
    return y


# ----------------------------------------------------------------------------- Sarcasm

def _sarcasm_tsv(root: Path) -> Manifest:
    ann = root / "annotations"
    images = root / "images"
    if not images.is_dir():
        raise LayoutError(f"sarcasm: {images}: image folder missing; expected {SARCASM_LAYOUT}")
    samples, files = [], []
    for split, name in (("train", "train.tsv"), ("val", "valid.tsv"), ("test", "test.tsv")):
        path = ann / name
        if not path.is_file():
            raise LayoutError(f"sarcasm: {path}: annotation file missing; expected {SARCASM_LAYOUT}")
        files.append(path)
        rows = csv_rows(path, "\t", csv.QUOTE_NONE)
        header = [h.strip() for h in rows[0]] if rows else []
        if not {"Label", "String", "ImageID"} <= set(header):
            raise LayoutError(f"sarcasm: {path}: expected the columns Label, String, ImageID, found "
                              f"{', '.join(header) or 'an empty file'}")
        col = {h: header.index(h) for h in ("Label", "String", "ImageID")}
        for n, row in enumerate(rows[1:], 2):
            if len(row) < len(header):
                raise LayoutError(f"sarcasm: {path} line {n}: expected {len(header)} tab-separated columns, "
                                  f"found {len(row)}")
            image_id = row[col["ImageID"]].strip()
            samples.append(Sample(image_id, _label(row[col["Label"]], 2, f"sarcasm: {path} line {n}"), split,
                                  {"image": Source("image", _image_path(images, image_id))},
                                  row[col["String"]]))
    return Manifest("sarcasm", "annotations/{train,valid,test}.tsv, images/", root, list(SARCASM_CLASSES),
                    samples, files)


def _sarcasm_raw(root: Path) -> Manifest:
    text = root / "text_data"
    images = first_dir(root, ["dataset_image", "images"])
    if images is None:
        raise LayoutError(f"sarcasm: {root / 'dataset_image'}: image folder missing (also looked for "
                          f"images/); expected {SARCASM_LAYOUT}")
    samples, files = [], []
    for split, names, at in (("train", ["train.txt"], 2), ("val", ["valid2.txt", "valid.txt"], 3),
                             ("test", ["test2.txt", "test.txt"], 3)):
        path = next((text / n for n in names if (text / n).is_file()), None)
        if path is None:
            raise LayoutError(f"sarcasm: {text / names[-1]}: annotation file missing; expected {SARCASM_LAYOUT}")
        files.append(path)
        for n, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = ast.literal_eval(line.strip())
                image_id, words, label = str(item[0]), str(item[1]), item[at]
            except (ValueError, SyntaxError, IndexError, TypeError):
                raise LayoutError(f"sarcasm: {path} line {n}: expected a Python list `[img_id, text, "
                                  f"{'label' if at == 2 else '..., label'}]` with the label at index {at}, "
                                  f"found {line.strip()[:80]!r}") from None
            samples.append(Sample(image_id, _label(label, 2, f"sarcasm: {path} line {n}"), split,
                                  {"image": Source("image", _image_path(images, image_id))}, words))
    return Manifest("sarcasm", f"raw release text_data/ ({', '.join(p.name for p in files)}), {images.name}/",
                    root, list(SARCASM_CLASSES), samples, files)


def scan_sarcasm(root: Path, modalities=("image", "text")) -> Manifest:
    require_root("sarcasm", root, SARCASM_LAYOUT)
    if (root / "annotations" / "train.tsv").is_file():
        return _sarcasm_tsv(root)
    if (root / "text_data" / "train.txt").is_file():
        return _sarcasm_raw(root)
    raise LayoutError(f"sarcasm: {root}: no annotation files found; expected {SARCASM_LAYOUT}")


# ----------------------------------------------------------------------------- Twitter2015

def scan_twitter2015(root: Path, modalities=("image", "text")) -> Manifest:
    require_root("twitter2015", root, TWITTER_LAYOUT)
    folder = next((f for f in (root, root / "annotations") if (f / "train.tsv").is_file()), None)
    if folder is None:
        raise LayoutError(f"twitter2015: {root / 'train.tsv'}: annotation file missing; expected {TWITTER_LAYOUT}")
    images = first_dir(root, ["twitter2015_images", "images"])
    if images is None:
        raise LayoutError(f"twitter2015: {root / 'twitter2015_images'}: image folder missing (also looked "
                          f"for images/); expected {TWITTER_LAYOUT}")
    samples, files, renamed = [], [], False
    for split, names in (("train", ["train.tsv"]), ("val", ["dev.tsv", "valid.tsv", "val.tsv"]),
                         ("test", ["test.tsv"])):
        path = next((folder / n for n in names if (folder / n).is_file()), None)
        if path is None:
            raise LayoutError(f"twitter2015: {folder / names[0]}: annotation file missing; expected {TWITTER_LAYOUT}")
        files.append(path)
        rows = csv_rows(path, "\t", csv.QUOTE_NONE)
        header = [h.strip() for h in rows[0]] if rows else []
        label_col = next((header.index(h) for h in ("#1 Label", "Label") if h in header), None)
        image_col = next((header.index(h) for h in ("#2 ImageID", "ImageID") if h in header), None)
        strings = [i for i, h in enumerate(header) if h in ("#3 String", "String")]
        target = next((header.index(h) for h in ("Target", "Aspect", "Entity") if h in header),
                      strings[1] if len(strings) > 1 else None)
        if label_col is None or image_col is None or not strings:
            raise LayoutError(f"twitter2015: {path}: expected the header `index, #1 Label, #2 ImageID, "
                              f"#3 String, #3 String` or the columns Label, String, ImageID, found "
                              f"{', '.join(header) or 'an empty file'}")
        renamed = renamed or "Label" in header
        for n, row in enumerate(rows[1:], 2):
            if len(row) < len(header):
                raise LayoutError(f"twitter2015: {path} line {n}: expected {len(header)} tab-separated "
                                  f"columns, found {len(row)}")
            words = row[strings[0]]
            if target is not None:
                words = words.replace("$T$", row[target].strip())
            image_id = row[image_col].strip()
            samples.append(Sample(image_id, _label(row[label_col], 3, f"twitter2015: {path} line {n}"), split,
                                  {"image": Source("image", _image_path(images, image_id))}, words))
    layout = (f"{'renamed-column' if renamed else 'original'} TSV ({', '.join(p.name for p in files)}), "
              f"{images.name}/")
    return Manifest("twitter2015", layout, root, list(TWITTER_CLASSES), samples, files)
