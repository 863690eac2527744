"""Shared code for the problem scripts: MNIST loading, the trained CNN, occlusion, CLI plumbing.

Attributes load lazily (PEP 562), so the numpy-only scripts (P3, P5) that import
`common.gradcheck` or `common.cli` do not pay for importing torch.
"""
from importlib import import_module
from typing import Any

_EXPORTS = {
    "MNISTData": "common.data",
    "load_mnist": "common.data",
    "resolve_source": "common.data",
    "shift": "common.data",
    "CNN": "common.cnn",
    "load_cnn": "common.cnn",
    "train_cnn": "common.cnn",
    "capture": "common.cnn",
    "predict_proba": "common.cnn",
    "occlude": "common.occlusion",
    "UserError": "common.cli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'common' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
