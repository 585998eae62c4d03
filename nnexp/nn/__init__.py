"""nnexp.nn: the NumPy neural-network engine (numpy only; no hydra/optuna/mlflow).

Public API (see docs/ARCHITECTURE.md)::

    MLP(sizes, activation, output, loss, init, dropout, dtype, rng)
    make_optimizer(name, params, lr, **kw)       OPTIMIZERS
    make_schedule(name, base_lr, **kw)           SCHEDULES
    gradient_check(model, X, y, eps=1e-6)
    save_model(model, path) / load_model(path)
    Neuron, TutorialNetwork
"""

from .activations import ACTIVATIONS, Activation, make_activation, sigmoid
from .gradcheck import gradient_check, numerical_gradient, relative_error
from .heads import DEFAULT_LOSS, OUTPUTS, VALID_PAIRS, Head, make_head, softmax
from .initializers import INITIALIZERS, get_initializer
from .layer import Layer
from .layers import Dense, Dropout
from .losses import LOSSES, Loss
from .mlp import MLP
from .neuron import Neuron
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
from .schedules import SCHEDULES, Schedule, make_schedule
from .serialization import load_model, save_model
from .special import erf, erfc
from .tutorial import TutorialNetwork

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_LOSS",
    "INITIALIZERS",
    "LOSSES",
    "MLP",
    "OPTIMIZERS",
    "OUTPUTS",
    "SCHEDULES",
    "SGD",
    "VALID_PAIRS",
    "Activation",
    "Adam",
    "AdamW",
    "Dense",
    "Dropout",
    "Head",
    "Layer",
    "Loss",
    "Momentum",
    "Nesterov",
    "Neuron",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "TutorialNetwork",
    "erf",
    "erfc",
    "get_initializer",
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
