#!/usr/bin/env bash
# One call of a GPU machine (about 8 minutes): make the project importable there (no network:
# torch and the rest come from the machine), then measure training throughput of the
# CREMA-D-shaped model: fp32 eager vs bf16 + channels-last (+ compiled), and through the real
# CREMA-D loader from a generated prepared cache. Prints ratios and GPU utilisation.
#   bash benchmarks/gpu_check.sh            # on the GPU machine, from the repository root
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || echo "(pip install skipped: using PYTHONPATH)"
python3 - <<'PY'
import importlib
missing = [m for m in ("torch", "torchvision", "sklearn", "librosa", "soundfile", "av", "PIL", "transformers")
           if importlib.util.find_spec(m) is None]
print("missing python packages:", missing or "none")
PY
timeout 420 python3 benchmarks/gpu_throughput.py --device cuda --batch 64 --steps 30 --clips 1200 "$@"
