"""Reading media files into arrays: spectrograms (librosa), frames (Pillow, PyAV), images.

Every reader raises `MediaError` with the file and the reason when a file cannot be read, so
that callers can count it as unreadable instead of failing with a library traceback.

Spectrogram shapes (257 rows = n_fft 512 / 2 + 1; librosa's centred STFT gives
1 + samples // hop columns; the waveform is tiled, as the released code tiles it, and cut to
exactly the length that gives the wanted number of columns; values are log(|S| + 1e-7)):

- paper, Kinetics-Sounds and VGGSound, 257x1004: 16 kHz, hop 160 (10 ms), 1003 * 160 = 160,480
  samples (10.03 s).
- paper, CREMA-D, 257x299: 16 kHz, hop 160, 298 * 160 = 47,680 samples (2.98 s).
- released (the authors' CREMA-D code), 257x1250: 22,050 Hz, hop 353, tiled to 20 s = 441,000
  samples, 1 + 441000 // 353 = 1250; the waveform clipped to [-1, 1] first, as that code does.
The paper gives the shapes, not the parameters; the paper rows are the 10 ms hop at 16 kHz
that yields them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
AUDIO_SUFFIXES = (".wav", ".ogg", ".opus", ".flac")


class MediaError(Exception):
    """A file that exists but cannot be read."""


@dataclass(frozen=True)
class SpectrogramParams:
    sr: int
    n_fft: int
    hop: int
    samples: int      # waveform length after tiling and cutting
    clip: bool        # clip the waveform to [-1, 1] (the released code does)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_fft // 2 + 1, 1 + self.samples // self.hop)

    def as_dict(self) -> dict:
        return {**asdict(self), "shape": list(self.shape)}


def spectrogram_params(option: str, columns: int) -> SpectrogramParams:
    """`paper`: 16 kHz, hop 160, `columns` STFT frames; `released`: 257x1250 of the released code."""
    if option == "released":
        return SpectrogramParams(sr=22050, n_fft=512, hop=353, samples=22050 * 20, clip=True)
    return SpectrogramParams(sr=16000, n_fft=512, hop=160, samples=(columns - 1) * 160, clip=False)


def load_wave(path: Path, sr: int) -> np.ndarray:
    import librosa
    import soundfile as sf

    try:
        wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise MediaError(f"{path}: not a readable audio file ({exc})") from None
    wave = wave.mean(axis=1)
    if wave.size == 0:
        raise MediaError(f"{path}: empty audio")
    if rate != sr:
        wave = librosa.resample(wave, orig_sr=rate, target_sr=sr)
    return wave


def spectrogram(path: Path, p: SpectrogramParams) -> np.ndarray:
    """log(|STFT| + 1e-7) of the waveform tiled to `p.samples`, shape `p.shape`, float32."""
    import librosa

    wave = load_wave(path, p.sr)
    reps = -(-p.samples // len(wave))
    wave = np.tile(wave, reps)[:p.samples]
    if p.clip:
        wave = np.clip(wave, -1.0, 1.0)
    spec = librosa.stft(wave, n_fft=p.n_fft, hop_length=p.hop)
    return np.log(np.abs(spec) + 1e-7).astype(np.float32)


def load_fbank(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A precomputed Kaldi fbank `.npy` (frames x bins), cut or zero-padded to `shape`."""
    try:
        x = np.load(path).astype(np.float32)
    except (ValueError, OSError, EOFError) as exc:
        raise MediaError(f"{path}: not a readable .npy array ({exc})") from None
    if x.ndim != 2:
        raise MediaError(f"{path}: expected a 2-D fbank array (frames x bins), found shape {x.shape}")
    out = np.zeros(shape, np.float32)
    r, c = min(shape[0], x.shape[0]), min(shape[1], x.shape[1])
    out[:r, :c] = x[:r, :c]
    return out


def even_indices(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over range(n) (centres of k equal segments); repeats when n < k."""
    if n <= 0:
        raise ValueError("no frames")
    return np.minimum(((np.arange(k) + 0.5) * n / k).astype(int), n - 1)


def image_files(folder: Path) -> list[Path]:
    """The frame files of a folder, sorted by name (os.listdir order is arbitrary)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_image(path: Path, size: int, mode: str = "RGB") -> np.ndarray:
    """An image resized to size x size, (channels, size, size) uint8."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert(mode).resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{path}: not a readable image ({exc})") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def sampled_frames(folder: Path, count: int, size: int) -> np.ndarray:
    """`count` frames spread evenly over the folder's sorted frame files, (count, 3, s, s) uint8."""
    if not folder.is_dir():
        raise MediaError(f"{folder}: frame folder missing")
    files = image_files(folder)
    if not files:
        raise MediaError(f"{folder}: no .jpg frames")
    return np.stack([load_image(files[i], size) for i in even_indices(len(files), count)])


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR), dtype=np.uint8)


def decode_video(path: Path, fps: float | None = None, start: int = 0, end: int | None = None
                 ) -> list[np.ndarray]:
    """RGB frames (h, w, 3) uint8 of a video: every frame in [start, end), or with `fps`, the
    first frame at or after each multiple of 1/fps seconds."""
    import av

    if not path.is_file():
        raise MediaError(f"{path}: video missing")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            next_t = 0.0
            for i, frame in enumerate(container.decode(video=0)):
                if fps is not None:
                    t = float(frame.time) if frame.time is not None else i / 30.0
                    if t + 1e-6 < next_t:
                        continue
                    next_t += 1.0 / fps
                elif i < start:
                    continue
                elif end is not None and i >= end:
                    break
                frames.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{path}: not a readable video ({exc})") from None
    if not frames:
        raise MediaError(f"{path}: no frames decoded" + (f" in [{start}, {end})" if fps is None else ""))
    return frames


def video_frames(path: Path, count: int, size: int, channels: int = 3, fps: float | None = None,
                 start: int = 0, end: int | None = None) -> np.ndarray:
    """`count` frames spread evenly over a video (1 frame a second with `fps=1`, or the range
    [start, end)), resized, (count, channels, s, s) uint8; channels 1 keeps the first channel
    (depth streams store depth in every channel), 2 the first two (u, v of optical flow)."""
    frames = decode_video(path, fps, start, end)
    picked = [_resize(frames[i], size) for i in even_indices(len(frames), count)]
    return np.stack(picked).transpose(0, 3, 1, 2)[:, :channels].copy()


def flow_jpg_frames(folder: Path, count: int, size: int, start: int = 0, end: int | None = None
                    ) -> np.ndarray:
    """Optical flow stored as TSN/denseflow jpg pairs `flow_x_<n>.jpg`, `flow_y_<n>.jpg`
    (sorted by name; the range [start, end) counts pairs), (count, 2, s, s) uint8."""
    if not folder.is_dir():
        raise MediaError(f"{folder}: optical flow folder missing")
    xs = sorted(folder.glob("flow_x_*.jpg"))
    ys = sorted(folder.glob("flow_y_*.jpg"))
    if not xs or len(xs) != len(ys):
        raise MediaError(f"{folder}: expected matching flow_x_*.jpg and flow_y_*.jpg files, found "
                         f"{len(xs)} and {len(ys)}")
    xs, ys = xs[start:end], ys[start:end]
    if not xs:
        raise MediaError(f"{folder}: no flow frames in [{start}, {end})")
    idx = even_indices(len(xs), count)
    return np.stack([np.concatenate([load_image(xs[i], size, "L"), load_image(ys[i], size, "L")])
                     for i in idx])


def probe(path: Path) -> None:
    """Open a file far enough to know it is readable (the check of `lfm prepare --check`)."""
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except (RuntimeError, sf.LibsndfileError, OSError) as exc:
            raise MediaError(f"{path}: not a readable audio file ({exc})") from None
        if info.frames == 0:
            raise MediaError(f"{path}: empty audio")
    elif suffix == ".npy":
        try:
            np.load(path, mmap_mode="r")
        except (ValueError, OSError, EOFError) as exc:
            raise MediaError(f"{path}: not a readable .npy array ({exc})") from None
    elif suffix in IMAGE_SUFFIXES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise MediaError(f"{path}: not a readable image ({exc})") from None
    elif suffix in (".avi", ".flv", ".mp4"):
        import av

        try:
            with av.open(str(path)) as c:
                if not c.streams.video:
                    raise MediaError(f"{path}: no video stream")
                next(c.decode(video=0))
        except (av.error.FFmpegError, OSError, StopIteration) as exc:
            raise MediaError(f"{path}: not a readable video ({exc})") from None
