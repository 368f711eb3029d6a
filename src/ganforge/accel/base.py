"""What every faster form shares: it is its plain layer, re-classed in place."""

from __future__ import annotations

from typing import Any

from torch import nn

from ganforge.accel.policy import AccelPolicy


class Accelerated:
    """Mixin of a faster form. A form subclasses its plain layer's class and changes only forward(), so it keeps the
    plain layer's parameters, state-dict keys and isinstance checks (spectral norm, inits)."""

    policy: AccelPolicy

    @classmethod
    def plain_class(cls) -> type[nn.Module]:
        """The plain class this form stands for (the next base after this mixin)."""
        return cls.__mro__[cls.__mro__.index(Accelerated) + 1]

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        """Whether `plain` is exactly of the plain class (not a subclass, nor a parametrized layer) with settings this
        form computes; forms with settings to check extend it."""
        return type(plain) is cls.plain_class()

    @classmethod
    def convert(cls, plain: nn.Module, policy: AccelPolicy, **attributes: Any) -> nn.Module:
        """`plain` itself, now of this class, with `policy` and `attributes` set. Re-classing (as torch's own
        parametrizations do) keeps the same object, tensors, hooks and mode: nothing is allocated, no random number
        drawn, optimisers holding its parameters stay valid."""
        if not cls.fits(plain):
            raise TypeError(f"{cls.__name__} does not compute {plain!r}")
        plain.__class__ = cls
        plain.policy = policy
        for name, value in attributes.items():
            setattr(plain, name, value)
        return plain

