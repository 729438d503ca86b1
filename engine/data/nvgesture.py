"""NVGesture: the `.lst` split files of the NVIDIA release, RGB and depth from the `.avi`
streams (frames [start, end) of the gesture), optical flow precomputed by the user."""
from __future__ import annotations

from pathlib import Path

from engine.data.manifest import LayoutError, Manifest, Sample, Source, read_text, require_root
from engine.contract.data_folders import NV_LAYOUT  # the layouts, shared with the UI

SENSORS = {"rgb": "color", "depth": "depth"}


def _lst(root: Path, split: str) -> Path:
    for name in (f"nvgesture_{split}_correct_cvpr2016_v2.lst", f"nvgesture_{split}_correct_cvpr2016.lst",
                 f"nvgesture_{split}_correct.lst"):
        if (root / name).is_file():
            return root / name
    raise LayoutError(f"nvgesture: {root / f'nvgesture_{split}_correct_cvpr2016_v2.lst'}: split file missing; "
                      f"expected {NV_LAYOUT}")


def _parse(line: str, where: str) -> tuple[str, dict[str, tuple[str, int, int]], int]:
    fields = dict(part.split(":", 1) for part in line.split() if ":" in part)
    try:
        path = fields["path"]
        label = int(fields["label"])
        sensors = {}
        for key in ("color", "depth"):
            stem, start, end = fields[key].split(":")
            sensors[key] = (stem, int(start), int(end))
    except (KeyError, ValueError):
        raise LayoutError(f"{where}: expected `path:<folder> depth:<stem>:<start>:<end> color:<stem>:<start>:<end> "
                          f"... label:<1..25>`, found {line.strip()[:100]!r}") from None
    if not 1 <= label <= 25:
        raise LayoutError(f"{where}: expected a label 1..25, found {label}")
    return path, sensors, label


def scan_nvgesture(root: Path, modalities=("rgb", "depth", "flow")) -> Manifest:
    require_root("nvgesture", root, NV_LAYOUT)
    files = {"train": _lst(root, "train"), "test": _lst(root, "test")}
    samples = []
    for split, path in files.items():
        for n, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            rel, sensors, label = _parse(line, f"nvgesture: {path} line {n}")
            folder = (root / rel).resolve()
            src = {m: Source("video_range", str(folder / f"{sensors[s][0]}.avi"), sensors[s][1], sensors[s][2])
                   for m, s in SENSORS.items()}
            _, start, end = sensors["color"]
            if (folder / "sk_flow.avi").is_file():
                src["flow"] = Source("video_range", str(folder / "sk_flow.avi"), start, end)
            else:  # flow pair k lies between colour frames k and k + 1
                src["flow"] = Source("flow_jpg", str(folder / "flow"), start, max(end - 1, start + 1))
            samples.append(Sample(f"{rel}", label - 1, split, src))
    return Manifest("nvgesture", f"{files['train'].name}, {files['test'].name}; .avi streams",
                    root, [str(i) for i in range(1, 26)], samples, list(files.values()))
