"""Faster forms of the plain layers models/ builds, applied to a built network by one call:

    from ganforge.accel import AccelPolicy, accelerate
    accelerate(G, AccelPolicy())   # in place; the same parameters, state-dict keys and function

The forms (each a subclass of its plain layer that changes only forward(); equality tests in tests/accel/test_accel.py,
tests/accel/test_stride2.py, tests/accel/test_winograd.py; figures in docs/speed.md):
- nearest.py: nn.Upsample(x2, nearest) + 3x3 conv as one stride-2 transposed conv on the small map (NearestConv; the
  equalised-lr conv of MSG-GAN / progressive growing: NearestEqualConv2d)
- linear_ends.py: D's whole-map heads (WholeInputConv) and G's latent stem (LatentStem) as linear layers
- stride2.py: 4x4 stride-2 convs with the matmul weight gradient and the sub-pixel form of few-output transposed
  convs (Stride2Conv2d, Stride2ConvTranspose2d; the nearest fold runs through them too)
- winograd.py: those layers by Winograd's F(2x2, 2x2) where they are wide and their maps small
The policy (policy.py) says which forms a run may use; `AccelPolicy.plain()` swaps nothing.
"""

from ganforge.accel.convert import accelerate
from ganforge.accel.policy import AccelPolicy

__all__ = ["AccelPolicy", "accelerate"]
