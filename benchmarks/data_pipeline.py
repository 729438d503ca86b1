"""Samples per second of the CREMA-D loader reading the prepared cache, against computing the
librosa spectrogram (and reading the frame) for every item as the released code does, on the
same generated data, in one run. Target: a ratio of at least 5.

    python benchmarks/data_pipeline.py                 # 200 clips of 3 s, the released code's 257x1250
    python benchmarks/data_pipeline.py --spectrogram paper --clips 400
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EMOTIONS = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]


def generate(root: Path, clips: int, seconds: float, sr: int = 16000) -> None:
    """CREMA-D layout: annotations/train.csv (with a BOM), AudioWAV/<id>.wav, Image-01-FPS/<id>/*.jpg."""
    import soundfile as sf
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    (root / "annotations").mkdir(parents=True)
    (root / "AudioWAV").mkdir()
    for i in range(clips):
        emo = EMOTIONS[i % 6]
        clip = f"{1001 + i // 12}_C{i:03d}_{emo}_XX"
        rows.append(f"{clip},{emo}")
        t = np.arange(int(seconds * sr)) / sr
        wave = 0.2 * np.sin(2 * np.pi * (200 + 40 * (i % 6)) * t) + 0.01 * rng.normal(size=t.size)
        sf.write(str(root / "AudioWAV" / f"{clip}.wav"), wave.astype(np.float32), sr)
        frames = root / "Image-01-FPS" / clip
        frames.mkdir(parents=True)
        for k in range(3):
            pixels = rng.integers(0, 256, size=(360, 480, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(frames / f"{k + 1:05d}.jpg", quality=90)
    cut = len(rows) * 9 // 10  # 90 % train, 10 % test, as CREMA-D's 6,698 / 744
    for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
        text = "\n".join(part) + "\n"
        (root / "annotations" / f"{name}.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())


class PerItem:
    """The released code's way: librosa load, tile, STFT and log for every item, and the frame
    read and resized, each time the item is asked for."""

    def __init__(self, samples, params, frames: int, size: int):
        self.samples = samples
        self.params, self.frames, self.size = params, frames, size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        import librosa
        import torch

        from engine.data.media import image_files, load_image

        s, p = self.samples[i], self.params
        wave, _ = librosa.load(s.sources["audio"].path, sr=p.sr)
        wave = np.tile(wave, -(-p.samples // len(wave)))[:p.samples]
        if p.clip:
            wave = np.clip(wave, -1, 1)
        spec = np.log(np.abs(librosa.stft(wave, n_fft=p.n_fft, hop_length=p.hop)) + 1e-7)
        files = image_files(Path(s.sources["video"].path))
        idx = np.linspace(0, len(files) - 1, self.frames).astype(int)
        video = np.stack([load_image(files[k], self.size) for k in idx]).astype(np.float32) / 255.0
        return {"audio": torch.from_numpy(spec)[None], "video": torch.from_numpy(video)}, s.label


def rate(make_batches, n: int, epochs: int) -> tuple[float, float]:
    """Samples per second over `epochs` passes (the first pass of the cache reads cold pages)."""
    start = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        for inputs, labels in make_batches():
            seen += len(labels)
    elapsed = time.perf_counter() - start
    assert seen == n * epochs, (seen, n)
    return seen / elapsed, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--spectrogram", choices=("released", "paper"), default="released")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2, help="passes over the training split on each side")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from engine.contract import recipe as recipes
    from engine.data import load_dataset
    from engine.data.base import epoch_batches, iter_batches
    from engine.data.disk import CATALOG, scan
    from engine.data.media import spectrogram_params

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cremad"
        os.environ["LFM_CACHE"] = str(Path(tmp) / "cache")
        t0 = time.perf_counter()
        generate(root, args.clips, args.seconds)
        print(f"generated {args.clips} clips of {args.seconds:g} s with 3 frames each in "
              f"{time.perf_counter() - t0:.1f} s")
        r = recipes.from_dict({
            "data": {"name": "cremad", "root": str(root), "modalities": ["audio", "video"],
                     "spectrogram": args.spectrogram, "frames": args.frames},
            "model": {"encoders": {"audio": {"kind": "resnet18"}, "video": {"kind": "resnet18"}}}})
        t0 = time.perf_counter()
        data = load_dataset(r)  # builds the cache: the one-off cost
        build = time.perf_counter() - t0
        n = len(data.train)
        batches = epoch_batches(n, args.batch, seed=0, epoch=1)
        n_batched = sum(len(b) for b in batches)
        shape = tuple(data.input_spec["audio"]["shape"])
        print(f"prepared cache ({shape} float16 spectrograms, {args.frames} frame(s) uint8): {build:.1f} s, once")

        cached, t_cached = rate(lambda: iter_batches(data.train, batches), n_batched, args.epochs)

        manifest = scan(r.data)
        per_item = PerItem([manifest.samples[i] for i in data.train.indices],  # the same training samples
                           spectrogram_params(args.spectrogram, CATALOG["cremad"].columns), args.frames,
                           r.data.image_size)
        loader = torch.utils.data.DataLoader(per_item, batch_sampler=[b.tolist() for b in batches])
        direct, t_direct = rate(lambda: loader, n_batched, args.epochs)
        total = n_batched * args.epochs
        print(f"cache read:        {cached:9.1f} samples/s ({total} samples, {args.epochs} epochs, in {t_cached:.2f} s)")
        print(f"librosa per item:  {direct:9.1f} samples/s ({total} samples, {args.epochs} epochs, in {t_direct:.2f} s)")
        per_epoch_saving = (t_direct - t_cached) / args.epochs
        print(f"ratio: {cached / direct:.1f}x (target >= 5x); building the cache took as long as "
              f"{build / max(per_epoch_saving, 1e-9):.1f} epochs of the saving")


if __name__ == "__main__":
    main()
