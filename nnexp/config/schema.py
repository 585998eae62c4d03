"""Structured-config schemas: the types of every config key.

The dataclasses give types (Hydra structured configs, "static schema with many configs"); the
YAML files in ``conf/`` give values. Because the root config is built from :class:`NnexpConfig`,
``optimizer.lr=abc``, ``trainer.epochs=1.5`` or a misspelled key fail while Hydra composes the
config, before anything runs. Range checks (``lr > 0``) live in :mod:`nnexp.config.validate`.

Each group has one schema shared by all its options, so that any option can be swapped on the
command line and every run logs the same parameter names (runs line up in MLflow's compare view).
Keys that an option does not use keep their defaults and are ignored by the builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nnexp.sweep.config import SweepConfig  # stdlib-only dataclasses (conf/sweep/*.yaml)


@dataclass
class DataConfig:
    """A dataset and how it is split. Generator knobs apply only to the datasets that take them."""

    name: str = "moons"
    n_samples: int = 1000
    noise: float = 0.2
    factor: float = 0.5
    n_arms: int = 3
    centers: int = 3
    n_features: int = 2
    cluster_std: float = 1.0
    path: str | None = None
    target: str | None = None
    task: str = "auto"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    n_train: int | None = None
    label_noise: float = 0.0
    input_noise: float = 0.0
    standardize: bool = True
    #: seed of the data (generation, split, noise); null = the run's ``seed``. Sweeps set it to
    #: the base seed so that trials with different seeds are compared on the same split.
    seed: int | None = None


@dataclass
class ModelConfig:
    """A multilayer perceptron. ``output``/``loss`` "auto" pick the head that fits the task."""

    name: str = "mlp"
    hidden_sizes: list[int] = field(default_factory=lambda: [16, 16])
    activation: str = "tanh"
    output: str = "auto"
    loss: str = "auto"
    init: str = "xavier_uniform"
    init_std: float = 1.0
    dropout: float = 0.0
    dtype: str = "float64"


@dataclass
class ScheduleConfig:
    """Learning-rate schedule (epoch-wise), with optional linear warm-up."""

    name: str = "constant"
    warmup_epochs: int = 0
    step_size: int = 30
    gamma: float = 0.1
    min_lr: float = 0.0


@dataclass
class OptimizerConfig:
    """An optimiser with ``torch.optim`` semantics and hyperparameter names."""

    name: str = "adam"
    lr: float = 0.01
    weight_decay: float = 0.0
    momentum: float = 0.9
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    alpha: float = 0.99
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


@dataclass
class EarlyStoppingConfig:
    """Off by default, so that overfitting stays visible in the learning curves."""

    enabled: bool = False
    monitor: str = "val_loss"
    patience: int = 20
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass
class TrainerConfig:
    """The fit loop. ``batch_size: null`` trains full batch."""

    name: str = "default"
    epochs: int = 100
    batch_size: int | None = 32
    shuffle: bool = True
    divergence_bound: float = 1e6
    progress: bool = True
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    #: per-layer statistics on logged epochs (gradient/weight norms, dead and saturated units),
    #: the causes they point to and their pictures (nnexp/nn/inspect.py, nnexp/findings.py)
    inspect: bool = True
    #: check backprop against finite differences on a batch of the data before training
    #: (nnexp/gradient_check_run.py); a relative error above its threshold stops the run
    gradient_check: bool = False


@dataclass
class TrackingConfig:
    """Where runs are recorded. ``enabled: false`` trains without MLflow."""

    name: str = "local"
    enabled: bool = True
    uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_location: str | None = "mlruns/artifacts"
    experiment_name: str = "nnexp"
    run_name: str | None = None
    log_model: bool = True
    log_plots: bool = True
    #: epochs between two logged metric points (plus the first and last epoch); 1 = every epoch
    log_every: int = 1


@dataclass
class NnexpConfig:
    """The root config. ``sweep`` is filled only by ``+sweep=NAME``."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    sweep: SweepConfig | None = None
