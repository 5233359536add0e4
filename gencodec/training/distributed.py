"""Data-parallel training under ``torchrun`` (gloo on CPU, NCCL on GPUs).

Launch any stage unchanged:

    torchrun --nproc_per_node 2 -m gencodec.training hyperprior --run runs/hp --minutes 60

Contract: every rank draws the same *global* batch (world_size x the stage's
batch) from the shared sampler state and trains on its own slice; before each
optimizer step the gradients are averaged over ranks with one all-reduce per
parameter (the synchronization DistributedDataParallel performs, applied at
the optimizer so stage code needs no wrapper). Parameters therefore stay
identical on all ranks. Only rank 0 logs and writes checkpoints; a resumed run
restores the same state on every rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup() -> DistInfo:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size())


def average_gradients_on_step(opt: torch.optim.Optimizer, info: DistInfo) -> None:
    """Make ``opt.step()`` all-reduce (average) the gradients of its parameters first."""
    if not info.enabled or getattr(opt, "_gic_distributed", False):
        return
    step = opt.step

    def synced_step(*args, **kwargs):
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(info.world)
        return step(*args, **kwargs)

    opt.step = synced_step  # type: ignore[method-assign]
    opt._gic_distributed = True  # type: ignore[attr-defined]


def broadcast_parameters(modules: dict[str, torch.nn.Module]) -> None:
    """Start every rank from rank 0's weights and buffers."""
    for m in modules.values():
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, src=0)


def shard(batch: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's slice of a global batch."""
    if not info.enabled:
        return batch
    n = batch.shape[0] // info.world
    return batch[info.rank * n : (info.rank + 1) * n]
