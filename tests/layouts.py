"""Tiny datasets written in each real on-disk layout: wav files (soundfile), jpg frames
(Pillow), avi/flv videos (PyAV), and annotation files formatted as the originals are."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

EMOTIONS = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]


def wav(path: Path, seconds: float = 0.3, sr: int = 16000, freq: float = 440.0) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)


def jpg(path: Path, value: int, size: tuple[int, int] = (24, 20), mode: str = "RGB") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, (value * 7) % 256)
    Image.new(mode, size, color).save(path, quality=95)


def frames(folder: Path, values: list[int], pattern: str = "{:05d}.jpg") -> None:
    """Frames named by position, written in reverse order (directory order is not name order)."""
    for i in reversed(range(len(values))):
        jpg(folder / pattern.format(i + 1), values[i])


def video(path: Path, values: list[int], fmt: str = "avi", codec: str = "mpeg4", rate: int = 10) -> None:
    """A short video whose frame i is a flat image of grey level values[i]."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = 32, 24, "yuv420p"
        for v in values:
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), v, np.uint8), format="rgb24")
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


def cremad(root: Path, *, bom: bool = True, old: bool = False, videos: bool = False) -> Path:
    """6 emotions x (2 train + 1 test) clips. `old`: CSVs at the root and the OGM-GE folder names
    audio/ and visual/; `videos`: VideoFlash/<id>.flv instead of extracted frames."""
    ann = root if old else root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "test": []}
    for k, emo in enumerate(EMOTIONS):
        for j, split in enumerate(("train", "train", "test")):
            clip = f"10{k}{j}_TIE_{emo}_XX"
            rows[split].append(f"{clip},{emo}")
            wav(root / ("audio" if old else "AudioWAV") / f"{clip}.wav", 0.2 + 0.1 * j, freq=200 + 150 * k)
            if videos:
                video(root / "VideoFlash" / f"{clip}.flv", [20 + 8 * t for t in range(25)], "flv", "flv")
            else:
                frames(root / ("visual" if old else "Image-01-FPS") / clip, [40, 120, 200])
    for split, lines in rows.items():
        data = ("\n".join(lines) + "\n").encode("utf-8")
        (ann / f"{split}.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return root


def ks_ogm(root: Path, *, fbank: bool = True, classes: int = 3) -> Path:
    """OGM-GE lists: `<id>_<start>_<end>,<label index>,...`; audio/<id>.npy or .wav; visual/<id>/frame_*.jpg."""
    rng = np.random.default_rng(0)
    lines = {"train": [], "test": []}
    for c in range(classes):
        for j, split in enumerate(("train", "train", "train", "test")):
            clip = f"yt{c}{j}abcde_{10 * j}_{10 * j + 10}"
            lines[split].append(f"{clip},{c},extra")
            if fbank:
                (root / "audio").mkdir(parents=True, exist_ok=True)
                np.save(root / "audio" / f"{clip}.npy", rng.normal(size=(1000, 128)).astype(np.float32))
            else:
                wav(root / "audio" / f"{clip}.wav", 0.5, freq=300 + 100 * c)
            frames(root / "visual" / clip, [10 * t + 20 * c for t in range(10)], "frame_{:05d}.jpg")
    for split, ls in lines.items():
        (root / f"my_{split}.txt").write_text("\n".join(ls) + "\n")
    return root


def ks_lab(root: Path, names=("playing piano", "bowling", "tap dancing")) -> Path:
    """annotations/{train,val,test}.csv with header youtube_id,label (class names)."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, per in (("train", 2), ("val", 1), ("test", 1)):
        rows = ["youtube_id,label"]
        for c, name in enumerate(names):
            for j in range(per):
                clip = f"{split}{c}{j}xyz"
                rows.append(f"{clip},{name}")
                wav(root / f"{split}_wav" / f"{clip}.wav", 0.4, freq=250 + 120 * c)
                frames(root / f"{split}_img" / "Image-01-FPS" / clip, [50, 90, 130, 170])
        (root / "annotations" / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root


def vggsound(root: Path, names=("people marching", "dog barking")) -> Path:
    rows = []
    for c, name in enumerate(names):
        for j, split in enumerate(("train", "train", "train", "test")):
            yid, start = f"-v{c}{j}_Ab", 30 * j + 1
            rows.append(f"{yid},{start},{name},{split}")
            clip = f"{yid}_{start:06d}"
            wav(root / "audio" / f"{clip}.wav", 0.5, freq=400 + 100 * c)
            frames(root / "visual" / clip, [60, 100, 140])
    (root / "vggsound.csv").write_text("\n".join(rows) + "\n")
    return root


def _images(folder: Path, ids: list[str]) -> None:
    for k, i in enumerate(ids):
        jpg(folder / f"{i}.jpg", (37 * k) % 256, (30, 26))


def sarcasm_tsv(root: Path) -> Path:
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    n = 0
    for split, per in (("train", 4), ("valid", 2), ("test", 2)):
        rows = ["Label\tString\tImageID"]
        ids = []
        for j in range(per):
            n += 1
            image_id = f"68{n:04d}"
            ids.append(image_id)
            rows.append(f"{j % 2}\tgreat, another \"monday\" #sarcasm {n}\t{image_id}")
        (ann / f"{split}.tsv").write_text("\n".join(rows) + "\n")
        _images(root / "images", ids)
    return root


def sarcasm_raw(root: Path) -> Path:
    text = root / "text_data"
    text.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, per, four in (("train.txt", 4, False), ("valid2.txt", 2, True), ("test2.txt", 2, True)):
        lines, ids = [], []
        for j in range(per):
            n += 1
            image_id = f"91{n:04d}"
            ids.append(image_id)
            item = [image_id, f"so <user> happy it's raining {n}", j % 2]
            if four:
                item = [image_id, item[1], 1 - j % 2, j % 2]  # the label is at index 3
            lines.append(repr(item))
        (text / name).write_text("\n".join(lines) + "\n")
        _images(root / "dataset_image", ids)
    return root


def twitter2015(root: Path, *, renamed: bool = False) -> Path:
    header = ("Label\tImageID\tString\tString" if renamed else
              "index\t#1 Label\t#2 ImageID\t#3 String\t#3 String")
    n = 0
    for split, per in (("train", 6), ("dev", 3), ("test", 3)):
        rows, ids = [header], []
        for j in range(per):
            n += 1
            image_id = f"{1800 + n}.jpg"
            ids.append(image_id[:-4])
            text, target = f"RT @ user : $T$ wins again {n}", "Messi"
            rows.append(f"{j % 3}\t{image_id}\t{text}\t{target}" if renamed
                        else f"{n}\t{j % 3}\t{image_id}\t{text}\t{target}")
        (root / f"{split}.tsv").parent.mkdir(parents=True, exist_ok=True)
        (root / f"{split}.tsv").write_text("\n".join(rows) + "\n")
        _images(root / "twitter2015_images", ids)
    return root


def nvgesture(root: Path, classes: int = 3, flow_video_for: int = 0) -> Path:
    """`.lst` lines with the colour and depth .avi streams; optical flow as flow/flow_{x,y}_*.jpg
    pairs, or sk_flow.avi for the first `flow_video_for` samples."""
    lines = {"train": [], "test": []}
    k = 0
    for c in range(classes):
        for j, split in enumerate(("train", "train", "train", "test")):
            rel = f"./Video_data/class_{c + 1:02d}/subject{j + 1}_r{c}"
            folder = root / rel
            video(folder / "sk_color.avi", [10 * t for t in range(20)])
            video(folder / "sk_depth.avi", [200 - 5 * t for t in range(20)])
            if k < flow_video_for:
                video(folder / "sk_flow.avi", [100 + t for t in range(20)])
            else:
                for t in range(19):
                    jpg(folder / "flow" / f"flow_x_{t + 1:05d}.jpg", 100 + t, (32, 24), "L")
                    jpg(folder / "flow" / f"flow_y_{t + 1:05d}.jpg", 150 - t, (32, 24), "L")
            k += 1
            lines[split].append(f"path:{rel} depth:sk_depth:3:15 color:sk_color:3:15 "
                                f"duo_left:duo_left:4:17 label:{c + 1}")
    for split, ls in lines.items():
        (root / f"nvgesture_{split}_correct_cvpr2016_v2.lst").write_text("\n".join(ls) + "\n")
    return root


# --------------------------------------------------------------------------- tiny pretrained models

def tiny_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    words = sorted({w for w in ("great another monday sarcasm so happy it's raining rt user wins again messi "
                                "the a is").split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"abcdefghijklmnopqrstuvwxyz0123456789",
             *[f"##{ch}" for ch in "abcdefghijklmnopqrstuvwxyz0123456789"], "#", "@", ",", "'", ":", "<", ">", '"']
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(str(folder))
    return folder


def tiny_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = "abcdefghijklmnopqrstuvwxyz0123456789#@,':<>\"$"
    vocab = {}
    for ch in chars:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(str(folder))
    cfg = CLIPConfig(text_config={"vocab_size": len(vocab), "hidden_size": 16, "intermediate_size": 32,
                                  "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64,
                                  "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"]},
                     vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                    "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
                     projection_dim=12)
    CLIPModel(cfg).save_pretrained(str(folder))
    return folder


def tiny_hf_resnet(folder: Path) -> Path:
    from transformers import ResNetConfig, ResNetModel

    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    ResNetModel(cfg).save_pretrained(str(folder))
    return folder
