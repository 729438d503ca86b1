"""torch.distributed for the engine: process group set-up from torchrun's environment, the
device, and the few collectives the trainer needs. A single process is the world of size 1 and
every helper here is then a no-op.

Launched by `lfm run RECIPE --nproc-per-node N` as `python -m torch.distributed.run ... -m
engine RECIPE`: each rank trains on its share of every global batch under
DistributedDataParallel; rank 0 alone writes events, TensorBoard and checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as td

from engine.contract.errors import UserError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    # ---------------------------------------------------------------- placement
    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch (rows rank, rank + world, ...)."""
        return idx[self.rank::self.world] if self.enabled else idx

    def to_device(self, inputs: dict, labels: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """A batch on this rank's device (non-blocking from pinned memory on CUDA)."""
        if self.device.type == "cpu":
            return inputs, labels
        return ({m: x.to(self.device, non_blocking=True) for m, x in inputs.items()},
                labels.to(self.device, non_blocking=True))

    @property
    def pin_memory(self) -> bool:
        return self.device.type == "cuda"

    # ---------------------------------------------------------------- collectives
    def all_reduce_mean(self, value: float) -> float:
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._coll_device)
        td.all_reduce(t)
        return float(t.item()) / self.world

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any rank (used so all ranks stop at one step)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1 if flag else 0], device=self._coll_device)
        td.all_reduce(t, op=td.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        td.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        """Rank 0's `obj` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        td.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce_sum(self, x: torch.Tensor) -> torch.Tensor:
        """`x` summed over the ranks (in place; `x` itself in one process)."""
        if self.enabled:
            td.all_reduce(x)
        return x

    def average_gradients(self, tensors: list[torch.Tensor]) -> None:
        """Every tensor replaced, in place, by its mean over the ranks: one all-reduce of them
        flattened together. Every rank passes the same tensors in the same order."""
        if not self.enabled or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        td.all_reduce(flat)
        flat.div_(self.world)
        offset = 0
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset:offset + n].view_as(t))
            offset += n

    def broadcast_module(self, module: torch.nn.Module, buffers_only: bool = False) -> None:
        """Rank 0's parameters and buffers (or buffers only) copied into every rank's module,
        as DistributedDataParallel does at construction (parameters) and before each forward
        pass (buffers: batch-norm statistics)."""
        if not self.enabled:
            return
        tensors = [*([] if buffers_only else module.parameters()), *module.buffers()]
        with torch.no_grad():
            for t in tensors:
                td.broadcast(t.data, src=0)

    def barrier(self) -> None:
        if self.enabled:
            td.barrier()

    def all_gather_cat(self, x: torch.Tensor, global_size: int) -> torch.Tensor:
        """The rows of every rank concatenated in rank order, differentiable: the gradient of
        the local rows is the sum of the gradients all ranks compute for them. Used so the
        matching loss sees the whole global batch, as CLIP does. Rank r holds rows r, r + W, ...
        of a global batch of `global_size`; the result is in rank order, not global order."""
        if not self.enabled:
            return x
        sizes = [len(range(r, global_size, self.world)) for r in range(self.world)]
        return _GatherCat.apply(x, sizes, self.rank)

    @property
    def _coll_device(self) -> torch.device:
        return self.device if td.get_backend() == "nccl" else torch.device("cpu")

    def close(self) -> None:
        """Wait for every rank (rank 0 writes the summary after the test), then leave the process
        group as it is: the engine process ends with os._exit right after, because tearing a
        gloo group down (destroy_process_group, or the interpreter's own teardown) now and then
        aborts a rank with std::terminate once the run is over."""
        if self.enabled and td.is_initialized():
            try:
                td.barrier()
            except RuntimeError:
                pass  # a rank that failed is reported by torchrun


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("train.device: 'cuda' asked for, but no CUDA device is available "
                            "(use 'auto' or 'cpu')")
        return torch.device("cuda", local_rank)
    return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")


def init(device_name: str) -> Dist:
    """The world from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local)
    if world > 1 and not td.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        td.init_process_group(backend=backend)
    return Dist(rank, world, local, device)


class _GatherCat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, sizes, rank):
        pad = max(sizes) - x.shape[0]
        local = torch.cat([x, x.new_zeros(pad, *x.shape[1:])]) if pad else x
        parts = [torch.empty_like(local) for _ in sizes]
        td.all_gather(parts, local.contiguous())
        ctx.sizes, ctx.rank = sizes, rank
        return torch.cat([p[:n] for p, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        td.all_reduce(grad)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None, None
