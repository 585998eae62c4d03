"""nnexp.nn: the NumPy neural-network engine (numpy only; no hydra/optuna/mlflow).

Public API (see docs/ARCHITECTURE.md)::

    MLP(sizes, activation, output, loss, init, dropout, dtype, rng, norm=..., label_smoothing=...,
        class_weight=...)                        BatchNorm, LayerNorm (NORMS)
    make_optimizer(name, params, lr, **kw)       OPTIMIZERS
    GradientStep(optimizer, l1, clip_grad_norm, clip_grad_value, step_schedule)
    make_schedule(name, base_lr, **kw)           SCHEDULES, ReduceLROnPlateau
    gradient_check(model, X, y, eps=1e-6) -> GradientCheck (.passed against THRESHOLD)
    save_model(model, path) / load_model(path)
    Neuron, TutorialNetwork
"""

from .activations import ACTIVATIONS, Activation, make_activation, sigmoid
from .clipping import clip_grad_norm_, clip_grad_value_, global_norm
from .gradcheck import THRESHOLD, GradientCheck, gradient_check, numerical_gradient, relative_error
from .heads import DEFAULT_LOSS, OUTPUTS, VALID_PAIRS, Head, make_head, softmax
from .initializers import INITIALIZERS, get_initializer
from .layer import Layer
from .layers import Dense, Dropout
from .losses import LOSSES, Loss
from .mlp import MLP
from .neuron import Neuron
from .norm import NORMS, BatchNorm, LayerNorm
from .optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    make_optimizer,
)
from .plateau import ReduceLROnPlateau
from .schedules import SCHEDULES, Schedule, make_schedule
from .serialization import load_model, save_model
from .special import erf, erfc
from .stepping import GradientStep
from .tutorial import TutorialNetwork

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_LOSS",
    "INITIALIZERS",
    "LOSSES",
    "MLP",
    "NORMS",
    "OPTIMIZERS",
    "OUTPUTS",
    "SCHEDULES",
    "SGD",
    "THRESHOLD",
    "VALID_PAIRS",
    "Activation",
    "Adam",
    "AdamW",
    "BatchNorm",
    "Dense",
    "Dropout",
    "GradientCheck",
    "GradientStep",
    "Head",
    "Layer",
    "LayerNorm",
    "Loss",
    "Momentum",
    "Nesterov",
    "Neuron",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "Schedule",
    "TutorialNetwork",
    "clip_grad_norm_",
    "clip_grad_value_",
    "erf",
    "erfc",
    "get_initializer",
    "global_norm",
    "gradient_check",
    "load_model",
    "make_activation",
    "make_head",
    "make_optimizer",
    "make_schedule",
    "numerical_gradient",
    "relative_error",
    "save_model",
    "sigmoid",
    "softmax",
]
