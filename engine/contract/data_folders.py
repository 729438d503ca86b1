"""What the folder of a dataset read from disk (`data.root`) must hold, and a quick check that it
holds it: the annotation files of one of the dataset's layouts, looked up without reading them.
Standard library only: the loaders (engine/data) take their layout texts from here, and the UI
marks the recipes whose data is not there without importing the data layer.
"""
from __future__ import annotations

import shlex
from pathlib import Path

CREMAD_LAYOUT = ("annotations/train.csv and annotations/test.csv (older copies: train.csv and "
                 "test.csv at the root), rows like `1041_TIE_NEU_XX,NEU` without a header; audio "
                 "AudioWAV/<id>.wav; frames Image-01-FPS/<id>/*.jpg (or the videos VideoFlash/<id>.flv)")

KS_LAYOUT = ("either the OGM-GE lists my_train.txt and my_test.txt (rows `<id>,<label index>,...`) with "
             "audio/<id>.npy (fbank) or audio/<id>.wav and frames visual/<id>/frame_*.jpg, or "
             "annotations/train.csv and annotations/test.csv (header `youtube_id,label`, label a class "
             "name) with train_wav/<id>.wav and train_img/Image-01-FPS/<id>/*.jpg (test_* for test)")

VGGSOUND_LAYOUT = ("vggsound.csv with rows `youtube_id,start,label,split` (split train or test); clip "
                   "id `<youtube_id>_<start as 6 digits>`; audio audio/<id>.wav (or .npy fbank, or "
                   "<split>_wav/<id>.wav) and frames visual/<id>/*.jpg (or <split>_img/Image-01-FPS/<id>/)")

SARCASM_LAYOUT = ("annotations/train.tsv, valid.tsv, test.tsv with columns Label, String, ImageID and "
                  "images/<ImageID>.jpg; or the raw release text_data/train.txt, valid.txt (or valid2.txt), "
                  "test.txt (or test2.txt) with lines `[img_id, text, label]` (valid/test: label at "
                  "index 3) and dataset_image/<img_id>.jpg (or images/)")

TWITTER_LAYOUT = ("train.tsv, dev.tsv, test.tsv (at the root or in annotations/) with the header "
                  "`index, #1 Label, #2 ImageID, #3 String, #3 String` (the second String is the target "
                  "that fills `$T$`) or the columns Label, String, ImageID; labels 0/1/2; images in "
                  "twitter2015_images/ (or images/)")

NV_LAYOUT = ("nvgesture_train_correct_cvpr2016_v2.lst and nvgesture_test_correct_cvpr2016_v2.lst (or "
             "without _v2) with lines `path:./Video_data/class_01/subject13_r0 depth:sk_depth:138:218 "
             "color:sk_color:138:218 duo_left:duo_left:161:254 label:1`; RGB <path>/sk_color.avi, depth "
             "<path>/sk_depth.avi; optical flow as <path>/flow/flow_x_*.jpg and flow_y_*.jpg (one pair per "
             "colour frame, as TSN/denseflow write them) or <path>/sk_flow.avi (u, v in the first two channels)")

LAYOUTS = {"cremad": CREMAD_LAYOUT, "kinetics_sounds": KS_LAYOUT, "vggsound": VGGSOUND_LAYOUT,
           "sarcasm": SARCASM_LAYOUT, "twitter2015": TWITTER_LAYOUT, "nvgesture": NV_LAYOUT}


def _nv_lists(split: str) -> tuple[str, ...]:
    return tuple(f"nvgesture_{split}_correct{tail}.lst" for tail in ("_cvpr2016_v2", "_cvpr2016", ""))


# The annotation files that identify each layout the loaders accept: a layout is a list of
# requirements, a requirement the names of which one file must be there.
ANNOTATIONS: dict[str, list[list[tuple[str, ...]]]] = {
    "cremad": [[("annotations/train.csv",), ("annotations/test.csv",)], [("train.csv",), ("test.csv",)]],
    "kinetics_sounds": [[("my_train.txt",), ("my_test.txt",)],
                        [("annotations/train.csv",), ("annotations/test.csv",)]],
    "vggsound": [[("vggsound.csv",)]],
    "sarcasm": [[("annotations/train.tsv",)], [("text_data/train.txt",)]],
    "twitter2015": [[("train.tsv",)], [("annotations/train.tsv",)]],
    "nvgesture": [[_nv_lists("train"), _nv_lists("test")]],
}


def missing_data(name: str, root: str) -> str | None:
    """Why `data.root` does not hold the dataset `name`, in a line naming the folder (what it must
    hold is `LAYOUTS[name]`), or None when it holds the annotation files of one of the dataset's
    layouts or `name` is a built-in dataset. The media files are checked by `lfm prepare --check`."""
    if name not in ANNOTATIONS:
        return None
    if not root:
        why = "data.root: empty"
    else:
        folder = Path(root).expanduser()
        try:
            if not folder.is_dir():
                why = f"data.root: {folder} is not a folder"
            elif any(all(any((folder / f).is_file() for f in need) for need in layout)
                     for layout in ANNOTATIONS[name]):
                return None
            else:
                why = f"data.root: {folder} holds no {name} annotation files"
        except OSError as exc:  # a folder that cannot be listed
            why = f"data.root: {folder}: {exc.strerror or exc}"
    return why


def prepare_commands(name: str, root: str) -> list[str]:
    """The commands that check a dataset folder and build its cache, quoted for a shell."""
    base = f"lfm prepare {name} --root {shlex.quote(root or f'data/{name}')}"
    return [f"{base} --check", base]
