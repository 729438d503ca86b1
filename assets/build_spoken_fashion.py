"""Rebuild assets/spoken_fashion.zip: spoken class names of Fashion-MNIST, one short clip per
sample, synthesised by Debian's `espeak-ng`, each paired with a Fashion-MNIST image of the same
class from assets/fashion.npz.xz.

    sudo apt-get install espeak-ng        # only to build; nothing reads it at run time
    python assets/build_spoken_fashion.py

Every clip: one of the 10 class names (`t-shirt`, `trouser`, ..., `ankle boot`) spoken by a
voice, i.e. one of espeak-ng's voice variants (`en+Adam`, `en+f3`, `en+whisper`, ...), in one of
its English accents, at a drawn speed (words per minute) and pitch; the silence around the word
trimmed; white Gaussian noise added at a signal-to-noise ratio drawn per clip; resampled to
8 kHz and stored as Ogg Opus. Everything drawn comes from one seed (`SEED`).

Splits are by voice: the variants are shuffled and dealt out to test, validation and training,
so no voice of the test (or validation) split speaks in training. Images: train and validation
clips get distinct images of Fashion-MNIST's training set, test clips distinct images of its
test set, of the clip's class.

The zip holds `meta.json` (classes, seed, sample rate, espeak-ng version, the construction's
parameters), `samples.csv` (one row a clip: id, label, split, voice, accent, speed, pitch,
snr_db, image) and `clips/<id>.opus`. Entries carry a fixed date so that the same inputs give
the same bytes.
"""
from __future__ import annotations

import csv
import io
import json
import lzma
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

SEED = 0
PER_CLASS = 300                      # clips per class
WORDS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
         "ankle boot")               # what is spoken for each Fashion-MNIST class, in label order
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
SPEED = (120, 240)                   # words per minute, uniform
PITCH = (15, 85)                     # espeak-ng's 0..99 scale, uniform
SNR_DB = (-10.0, 15.0)               # uniform, per clip; white Gaussian noise
VOICE_SHARE = {"test": 0.2, "val": 0.1}  # of the voices; the rest speak in training
RATE = 8000
OPUS_LEVEL = 1.0                     # soundfile's compression_level (1.0 = smallest)
DATE = (2024, 1, 1, 0, 0, 0)


def espeak(args: list[str]) -> bytes:
    try:
        done = subprocess.run(["espeak-ng", *args], capture_output=True, check=True, timeout=60)
    except FileNotFoundError:
        raise SystemExit("espeak-ng is not installed (sudo apt-get install espeak-ng)") from None
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"espeak-ng {' '.join(args)} failed: {e.stderr.decode(errors='replace')}") from None
    return done.stdout


def variants() -> list[str]:
    """espeak-ng's voice variants (`espeak-ng --voices=variant`), sorted."""
    rows = espeak(["--voices=variant"]).decode().splitlines()[1:]
    names = sorted({r.split()[4].split("/")[-1] for r in rows if len(r.split()) >= 5})
    if len(names) < 20:
        raise SystemExit(f"espeak-ng lists {len(names)} voice variants; expected the 90 or so of espeak-ng-data")
    return names


def speak(word: str, accent: str, variant: str, speed: int, pitch: int) -> np.ndarray:
    """The word as espeak-ng says it, float32 at RATE, the silence around it trimmed."""
    import librosa
    import soundfile as sf

    raw = espeak(["-v", f"{accent}+{variant}", "-s", str(speed), "-p", str(pitch), "--stdout", word])
    wave, rate = sf.read(io.BytesIO(raw), dtype="float32")
    wave = librosa.resample(wave, orig_sr=rate, target_sr=RATE)
    _, (a, b) = librosa.effects.trim(wave, top_db=40)
    pad = RATE // 20
    return wave[max(0, a - pad):b + pad]


def mix(speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """speech + white noise at snr_db (powers over the clip), scaled to a peak of 0.9."""
    power = float(np.mean(speech ** 2))
    noise = rng.standard_normal(len(speech)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    out = speech + noise
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


def encode(wave: np.ndarray, serial: int) -> bytes:
    """The wave as Ogg Opus, its stream serial number `serial` (libsndfile draws one at random,
    which alone made two builds differ)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wave, RATE, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)
    return with_serial(buf.getvalue(), serial)


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


OGG_CRC = _ogg_crc_table()


def ogg_crc(data: bytes) -> int:
    """Ogg's page checksum: CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC[(crc >> 24) ^ b]
    return crc


def with_serial(ogg: bytes, serial: int) -> bytes:
    """An Ogg stream of one logical stream with every page's serial number set to `serial` and its
    checksum recomputed (the page layout: 'OggS', version, flags, granule, serial at 14, sequence,
    checksum at 22, segment count at 26, the segment table, the segments)."""
    out, at = bytearray(), 0
    while at < len(ogg):
        if ogg[at:at + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {at}")
        segments = ogg[at + 26]
        end = at + 27 + segments + sum(ogg[at + 27:at + 27 + segments])
        page = bytearray(ogg[at:end])
        page[14:18] = serial.to_bytes(4, "little")
        page[22:26] = bytes(4)
        page[22:26] = ogg_crc(page).to_bytes(4, "little")
        out += page
        at = end
    return bytes(out)


def voice_splits(names: list[str], rng: np.random.Generator) -> dict[str, str]:
    order = [names[i] for i in rng.permutation(len(names))]
    n_test = round(len(order) * VOICE_SHARE["test"])
    n_val = round(len(order) * VOICE_SHARE["val"])
    return {v: ("test" if i < n_test else "val" if i < n_test + n_val else "train") for i, v in enumerate(order)}


def pick_images(labels: np.ndarray, splits: list[str], fashion_labels: np.ndarray, is_test: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """A distinct Fashion-MNIST image of each clip's class: its test set for test clips, its
    training set for the others."""
    out = np.empty(len(labels), np.int64)
    for c in range(len(WORDS)):
        for test in (False, True):
            clips = [i for i in range(len(labels)) if labels[i] == c and (splits[i] == "test") == test]
            pool = np.flatnonzero((fashion_labels == c) & (is_test == test))
            out[clips] = rng.choice(pool, size=len(clips), replace=False)
    return out


def build(fashion: Path, out: Path) -> None:
    with np.load(io.BytesIO(lzma.decompress(fashion.read_bytes()))) as z:
        fashion_labels, is_test = z["label"], z["is_test"]
    version = espeak(["--version"]).decode().split("Data at")[0].strip()
    names = variants()
    rng = np.random.default_rng(SEED)
    split_of = voice_splits(names, rng)
    by_split = {s: [v for v in names if split_of[v] == s] for s in ("train", "val", "test")}
    labels = np.repeat(np.arange(len(WORDS)), PER_CLASS)
    labels = labels[rng.permutation(len(labels))]
    split_draw = rng.choice(["train", "val", "test"], size=len(labels),
                            p=[1 - sum(VOICE_SHARE.values()), VOICE_SHARE["val"], VOICE_SHARE["test"]])
    rows = []
    for i, c in enumerate(labels):
        s = str(split_draw[i])
        rows.append({"id": f"{i:05d}", "label": int(c), "split": s,
                     "voice": str(rng.choice(by_split[s])), "accent": str(rng.choice(ACCENTS)),
                     "speed": int(rng.integers(SPEED[0], SPEED[1] + 1)),
                     "pitch": int(rng.integers(PITCH[0], PITCH[1] + 1)),
                     "snr_db": round(float(rng.uniform(*SNR_DB)), 2)})
    images = pick_images(labels, [r["split"] for r in rows], fashion_labels, is_test, rng)
    table = io.StringIO()
    writer = csv.DictWriter(table, ["id", "label", "split", "voice", "accent", "speed", "pitch", "snr_db", "image"],
                            lineterminator="\n")
    writer.writeheader()
    meta = {"classes": list(WORDS), "seed": SEED, "rate": RATE, "espeak_ng": version, "per_class": PER_CLASS,
            "speed_wpm": SPEED, "pitch": PITCH, "snr_db": SNR_DB, "noise": "white Gaussian",
            "voice_share": VOICE_SHARE, "accents": ACCENTS, "voices": split_of, "images": fashion.name}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        def put(name: str, data: bytes, method=zipfile.ZIP_DEFLATED) -> None:
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = method
            zf.writestr(info, data)

        for n, (r, img) in enumerate(zip(rows, images)):
            speech = speak(WORDS[r["label"]], r["accent"], r["voice"], r["speed"], r["pitch"])
            noise_rng = np.random.default_rng([SEED, n])
            put(f"clips/{r['id']}.opus", encode(mix(speech, r["snr_db"], noise_rng), n), zipfile.ZIP_STORED)
            writer.writerow({**r, "image": int(img)})
            if (n + 1) % 500 == 0:
                print(f"  {n + 1} / {len(rows)} clips", flush=True)
        put("samples.csv", table.getvalue().encode())
        put("meta.json", json.dumps(meta, indent=1).encode())
    counts = {s: sum(r["split"] == s for r in rows) for s in ("train", "val", "test")}
    print(f"wrote {out}: {len(rows)} clips ({counts}), {len(names)} voices "
          f"({', '.join(f'{s} {len(v)}' for s, v in by_split.items())}), {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit("usage: python assets/build_spoken_fashion.py   (reads assets/fashion.npz.xz)")
    here = Path(__file__).parent
    build(here / "fashion.npz.xz", here / "spoken_fashion.zip")
