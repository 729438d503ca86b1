"""Training samples per second of the CREMA-D-shaped model (ResNet18 on a 1x257x299 spectrogram
and ResNet18 on one 3x224x224 frame, concatenation, LFM loss, SGD), batch 64:

1. on tensors generated on the device: fp32 eager, bf16 autocast + channels-last, and the same
   compiled with torch.compile (unless --no-compile);
2. through the real CREMA-D loader, reading a prepared cache of generated clips (`lfm prepare`),
   with the engine itself (`python -m engine recipes/cremad.toml ...`), bf16 + channels-last.

Prints samples/s, the ratios to fp32 eager, and the GPU's utilisation sampled by nvidia-smi.
Meant for a CUDA machine (benchmarks/gpu_check.sh); `--device cpu --batch 4 --steps 1
--clips 72 --workers 0 --no-compile --image-size 32` checks it end to end on a CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


class GpuUtil:
    """Samples `nvidia-smi` utilisation every 0.2 s while active."""

    def __init__(self):
        self.samples: list[float] = []
        self.exe = shutil.which("nvidia-smi")
        self._stop = threading.Event()

    def __enter__(self):
        def loop():
            while not self._stop.is_set():
                out = subprocess.run([self.exe, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True).stdout.split()
                if out:
                    self.samples.append(float(out[0]))
                time.sleep(0.2)
        if self.exe:
            self._thread = threading.Thread(target=loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.exe:
            self._thread.join()

    def summary(self) -> str:
        return f"{statistics.mean(self.samples):.0f}%" if self.samples else "n/a"


def model_and_data(device, batch: int):
    import torch

    from engine.contract import recipe as recipes
    from engine.models import build_model

    r = recipes.load(ROOT / "recipes" / "cremad.toml", ["data.frames=1"])

    class Shapes:
        modalities = ("audio", "video")
        num_classes = 6
        input_spec = {"audio": {"type": "image", "shape": (1, 257, 299)},
                      "video": {"type": "video", "shape": (1, 3, 224, 224)}}

    torch.manual_seed(0)
    model = build_model(r, Shapes()).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    x = {"audio": torch.randn(batch, 1, 257, 299, device=device, generator=g),
         "video": torch.randn(batch, 1, 3, 224, 224, device=device, generator=g)}
    y = torch.randint(0, 6, (batch,), device=device, generator=g)
    return r, model, x, y


def synthetic(device: str, batch: int, steps: int, precision: str, channels_last: bool, compile_: bool) -> float:
    import contextlib

    import torch

    from engine.methods.losses import classification_loss, matching_loss, total_loss

    dev = torch.device(device)
    r, model, x, y = model_and_data(dev, batch)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x["audio"] = x["audio"].contiguous(memory_format=torch.channels_last)
    net = torch.compile(model) if compile_ else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=1e-4)
    cast = torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    def step():
        with cast:
            out = net(x)
            loss = total_loss(classification_loss(out.logits, y), matching_loss(out.embeddings, 0.07), 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3 if not compile_ else 5):  # warm-up (and compilation)
        step()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * steps / (time.perf_counter() - t)


def real_loader(device: str, batch: int, clips: int, workers: int, image_size: int) -> float:
    import data_pipeline  # benchmarks/data_pipeline.py: generates a CREMA-D layout

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cremad"
        env = {**os.environ, "LFM_CACHE": str(Path(tmp) / "cache"), "PYTHONPATH": str(ROOT)}
        data_pipeline.generate(root, clips, 3.0)
        data = [f"data.root={root}", "data.frames=1", f"data.batch_size={batch}", f"data.workers={workers}",
                f"data.image_size={image_size}"]
        subprocess.run([sys.executable, "-m", "engine.prepare", "cremad", "--root", str(root), *data],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        cmd = [sys.executable, "-m", "engine", "recipes/cremad.toml", *data, "train.epochs=2",
               f"train.device={'cuda' if device == 'cuda' else 'cpu'}", "train.precision=bf16",
               "train.log_every=1", "--runs-dir", str(Path(tmp) / "runs")]
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        evs = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
        rates = [e["samples_per_s"] for e in evs if e["type"] == "step" and e["epoch"] == 2]
        return statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--clips", type=int, default=1200, help="generated clips for the loader measurement")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--image-size", type=int, default=224, help="frame side for the loader measurement")
    args = p.parse_args()
    import torch

    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    rows = []
    configs = [("fp32 eager", "fp32", False, False), ("bf16 + channels-last", "bf16", True, False)]
    if not args.no_compile:
        configs.append(("bf16 + channels-last + compile", "bf16", True, True))
    for name, prec, cl, comp in configs:
        with GpuUtil() as util:
            rate = synthetic(args.device, args.batch, args.steps, prec, cl, comp)
        rows.append((name, rate, util.summary()))
        print(f"{name:34s} {rate:9.1f} samples/s   GPU {util.summary()}", flush=True)
    with GpuUtil() as util:
        rate = real_loader(args.device, args.batch, args.clips, args.workers, args.image_size)
    rows.append(("CREMA-D loader, bf16 + channels-last", rate, util.summary()))
    base = rows[0][1]
    print(f"\nbatch {args.batch}; ratio to fp32 eager on generated tensors")
    for name, rate, util in rows:
        print(f"{name:38s} {rate:9.1f} samples/s  x{rate / base:5.2f}   GPU {util}")


if __name__ == "__main__":
    main()
