"""Rebuild assets/emoji.npz from the npm archive of emoji-datasource-google.

    npm pack emoji-datasource-google@16.0.0
    python assets/build_emoji.py emoji-datasource-google-16.0.0.tgz

Every emoji outside the "Component" category that has a Google image: the 64x64 PNG is
composited on white and resized to 32x32 RGB (uint8); the text is the emoji's name in lower
case; the label is its category (9 classes, in sorted order).
"""
from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 32


def build(archive: Path, out: Path) -> None:
    with tarfile.open(archive) as tar:
        meta = json.load(tar.extractfile("package/emoji.json"))
        rows = sorted(
            (e for e in meta if e["category"] != "Component" and e.get("has_img_google")),
            key=lambda e: e["sort_order"],
        )
        classes = sorted({e["category"] for e in rows})
        images, names, labels, codes = [], [], [], []
        for e in rows:
            png = tar.extractfile(f"package/img/google/64/{e['image']}").read()
            rgba = Image.open(io.BytesIO(png)).convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(white, rgba).convert("RGB").resize((SIZE, SIZE), Image.LANCZOS)
            images.append(np.asarray(rgb, dtype=np.uint8))
            names.append(e["name"].lower())
            labels.append(classes.index(e["category"]))
            codes.append(e["unified"])
    np.savez_compressed(
        out,
        image=np.stack(images),
        text=np.array(names),
        label=np.array(labels, dtype=np.int64),
        classes=np.array(classes),
        code=np.array(codes),
    )
    print(f"wrote {out}: {len(rows)} emoji, {len(classes)} classes, images {SIZE}x{SIZE}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python assets/build_emoji.py emoji-datasource-google-16.0.0.tgz")
    build(Path(sys.argv[1]), Path(__file__).with_name("emoji.npz"))
