"""torchrun integration: process group setup, DDP or FSDP2 wrapping, rank-0 helpers.

`torchrun --nproc-per-node=K slmscale train CFG.yaml` sets RANK/WORLD_SIZE/LOCAL_RANK; a plain
`slmscale train` is a world of one and never touches torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(want: str, setting: str) -> Any:
    """The torch device for `want` (auto, cpu, cuda); `setting` names the config key in errors."""
    import torch

    from slmscale.errors import UserError

    if want == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{setting}=cuda but no CUDA device is visible; use {setting}=auto")
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(want)


def init_distributed(device_type: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")),
                    int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            import torch

            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def wrap_model(model: Any, info: DistInfo, mode: str, device: Any) -> Any:
    """DDP (replicated) or FSDP2 (sharded per decoder layer) when running under torchrun."""
    if not info.enabled:
        return model
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def all_reduce_sum(tensor: Any, info: DistInfo) -> Any:
    if info.enabled:
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def full_state_dict(model: Any, info: DistInfo, mode: str) -> dict[str, Any]:
    """Unsharded model weights on CPU (every rank must call this under FSDP)."""
    inner = unwrap(model)
    if info.enabled and mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(inner, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return inner.state_dict()


def full_optimizer_state(model: Any, optimizer: Any, info: DistInfo, mode: str) -> dict[str, Any]:
    if info.enabled and mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(unwrap(model), optimizer,
                                        options=StateDictOptions(full_state_dict=True, cpu_offload=True,
                                                                 flatten_optimizer_state_dict=False))
    return optimizer.state_dict()


def unwrap(model: Any) -> Any:
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


def shutdown(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def load_full_state(model: Any, optimizer: Any, model_state: dict[str, Any], opt_state: dict[str, Any],
                    info: DistInfo, mode: str) -> None:
    """Inverse of full_state_dict / full_optimizer_state (every rank calls it)."""
    inner = unwrap(model)
    if info.enabled and mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import (StateDictOptions, set_model_state_dict,
                                                             set_optimizer_state_dict)

        opts = StateDictOptions(full_state_dict=True, cpu_offload=True, flatten_optimizer_state_dict=False)
        set_model_state_dict(inner, model_state, options=opts)
        set_optimizer_state_dict(inner, optimizer, opt_state, options=opts)
        return
    inner.load_state_dict(model_state)
    optimizer.load_state_dict(opt_state)
