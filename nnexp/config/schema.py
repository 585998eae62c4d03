"""Structured-config schemas: the types of every config key.

The dataclasses give types (Hydra structured configs, "static schema with many configs"); the
YAML files in ``conf/`` give values. Because the root config is built from :class:`NnexpConfig`,
``optimizer.lr=abc``, ``trainer.epochs=1.5`` or a misspelled key fail while Hydra composes the
config, before anything runs. Range checks (``lr > 0``) live in :mod:`nnexp.config.validate`.

Each group has one schema shared by all its options, so that any option can be swapped on the
command line and every run logs the same parameter names (runs line up in MLflow's compare view).
Optimiser and schedule keys that an option does not use default to null, and setting one is
refused (:mod:`nnexp.config.validate`): every value given takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnexp.launch.config import LauncherConfig  # stdlib-only dataclass (conf/launcher/*.yaml)
from nnexp.sweep.config import SweepConfig  # stdlib-only dataclasses (conf/sweep/*.yaml)


@dataclass
class DataConfig:
    """A dataset and how it is split. A generator knob given for a dataset that does not take
    it is refused (nnexp/config/effect.py)."""

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
    #: loss weight per class: null (none), "balanced" (n / (k * count) on the training split,
    #: as sklearn's compute_class_weight) or a list with one positive number per class
    class_weight: Any = None


@dataclass
class ModelConfig:
    """A multilayer perceptron. ``output``/``loss`` "auto" pick the head that fits the task."""

    name: str = "mlp"
    hidden_sizes: list[int] = field(default_factory=lambda: [16, 16])
    activation: str = "tanh"
    output: str = "auto"
    loss: str = "auto"
    init: str = "xavier_uniform"
    #: std of ``init: normal`` (null: 1.0); refused with any other init
    init_std: float | None = None
    dropout: float = 0.0
    dtype: str = "float64"
    #: none | batch (BatchNorm1d) | layer (LayerNorm), Linear -> Norm -> activation
    norm: str = "none"
    #: torch's eps (null: 1e-5) and BatchNorm momentum (null: 0.1)
    norm_eps: float | None = None
    norm_momentum: float | None = None
    #: softmax cross-entropy's label_smoothing (torch's), in [0, 1]
    label_smoothing: float = 0.0


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, with optional linear warm-up. Keys left null take the named
    schedule's own default (torch's); a key the schedule does not use is refused."""

    name: str = "constant"
    #: epoch | step (stepped every batch); null: step for one_cycle, else epoch
    interval: str | None = None
    warmup_epochs: int = 0
    step_size: int | None = None  # step: 30
    gamma: float | None = None  # step: 0.1, exponential: 0.95
    min_lr: float | None = None  # cosine, reduce_on_plateau: 0
    monitor: str | None = None  # reduce_on_plateau: val_loss
    mode: str | None = None  # reduce_on_plateau: min
    factor: float | None = None  # reduce_on_plateau: 0.1
    patience: int | None = None  # reduce_on_plateau: 10
    threshold: float | None = None  # reduce_on_plateau: 1e-4
    threshold_mode: str | None = None  # reduce_on_plateau: rel
    cooldown: int | None = None  # reduce_on_plateau: 0
    pct_start: float | None = None  # one_cycle: 0.3
    div_factor: float | None = None  # one_cycle: 25
    final_div_factor: float | None = None  # one_cycle: 1e4
    anneal_strategy: str | None = None  # one_cycle: cos
    three_phase: bool | None = None  # one_cycle: false


@dataclass
class OptimizerConfig:
    """An optimiser with ``torch.optim`` semantics and hyperparameter names."""

    name: str = "adam"
    lr: float = 0.01
    weight_decay: float = 0.0
    #: L1 penalty: adds l1 * sign(p) to every parameter's gradient (loss + l1 * sum |p|)
    l1: float = 0.0
    # null: the optimiser's own (torch's) default; a key the optimiser does not take is refused
    momentum: float | None = None
    dampening: float | None = None
    nesterov: bool | None = None
    betas: list[float] | None = None
    eps: float | None = None
    alpha: float | None = None
    amsgrad: bool | None = None
    centered: bool | None = None
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
    #: clip the global gradient norm (torch's clip_grad_norm_) / every element (clip_grad_value_)
    clip_grad_norm: float | None = None
    clip_grad_value: float | None = None
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
    #: null: $MLFLOW_TRACKING_URI, else the project's sqlite:///<project>/mlruns/mlflow.db
    uri: str | None = None
    #: null: next to a SQLite store, the server's own store for http(s)://
    artifact_location: str | None = None
    #: null: $MLFLOW_EXPERIMENT_NAME, else $MLFLOW_EXPERIMENT_ID, else "nnexp"
    experiment_name: str | None = None
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
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    sweep: SweepConfig | None = None
