"""Batch norm whose batch statistics cover the global batch of every process (--sync-bn).

torch.nn.SyncBatchNorm refuses CPU tensors, and ganforge's multi-process training must work with gloo
on CPU, so this is the same computation written with the autograd-aware all-reduce: per-channel sums of
x and x^2 and the element count are summed over processes, and gradients flow back through the sum.
It subclasses BatchNorm2d, so state dicts (and checkpoints) are the same as without --sync-bn.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of a sum over processes is the sum of the processes' gradients."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncBatchNorm2d(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        channels = x.shape[1]
        xf = x.float()  # statistics in fp32 also under bf16 autocast
        count = torch.full((1,), x.numel() / channels, device=x.device, dtype=torch.float32)
        stats = _AllReduceSum.apply(torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count]))
        total = stats[-1]
        mean = stats[:channels] / total
        var = (stats[channels : 2 * channels] / total - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * total / (total - 1).clamp_min(1)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            shift = self.bias - mean * scale * self.weight
            scale = scale * self.weight
        else:
            shift = -mean * scale
        return (xf * scale[None, :, None, None] + shift[None, :, None, None]).to(x.dtype)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d in module for SyncBatchNorm2d, keeping its parameters and buffers (same device)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            tensors = [*child.parameters(), *child.buffers()]
            synced = SyncBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                     child.track_running_stats, device=tensors[0].device if tensors else None)
            synced.load_state_dict(child.state_dict())
            if child.affine:  # the same Parameter objects: optimisers built earlier keep working
                synced.weight, synced.bias = child.weight, child.bias
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            convert_sync_batchnorm(child)
    return module
