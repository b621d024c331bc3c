"""torchrun / DistributedDataParallel support for training.loop.fit: one big training run over several processes.

Under `torchrun --nproc_per_node N -m babycry_core train ...` each rank trains on its shard of the same
class-balanced epoch order (so balancing is kept), gradients are all-reduced by DDP (`gloo` on CPU,
`nccl` on GPU), and rank 0 alone writes the run folder. Without torchrun, everything is a no-op and the
run is an ordinary single process; with one torchrun process it is identical to that.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        import torch.distributed as dist

        return dist.is_available() and dist.is_initialized()

    def shard(self, order: np.ndarray) -> np.ndarray:
        """This rank's part of the global epoch order; every rank gets the same number of examples."""
        n = len(order) - len(order) % self.world_size
        return order[:n][self.rank :: self.world_size]

    def wrap(self, model):
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(model, device_ids=[self.local_rank] if self.device.startswith("cuda") else None)

    def share_path(self, path: Path | None) -> Path | None:
        """Rank 0's run folder, told to every rank."""
        if not self.active:
            return path
        import torch.distributed as dist

        box = [str(path) if path else None]
        dist.broadcast_object_list(box, src=0)
        return Path(box[0]) if box[0] else None

    def sync_buffers(self, model) -> None:
        """Give every rank rank 0's BatchNorm statistics, so validation (and early stopping) agree."""
        if not self.active:
            return
        import torch.distributed as dist

        for buf in unwrap(model).buffers():
            dist.broadcast(buf.data, src=0)

    def agree(self, flag: bool) -> bool:
        """True on every rank if it is true on any (a stop request must end all ranks together)."""
        if not self.active:
            return flag
        import torch
        import torch.distributed as dist

        t = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def context() -> DistContext:
    """Join the process group when started by torchrun (WORLD_SIZE set), else a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and os.environ.get("BABYCRY_DDP_BACKEND", "") != "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    device = f"cuda:{local}" if use_cuda else "cpu"
    if use_cuda:
        torch.cuda.set_device(local)
    return DistContext(dist.get_rank(), dist.get_world_size(), local, device)


def unwrap(model):
    return getattr(model, "module", model)


def weights_digest(model) -> str:
    """A short hash of the weights, printed per rank so tests can see the ranks agree."""
    import hashlib

    h = hashlib.sha1()
    for k, v in sorted(unwrap(model).state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
