"""Bad input, table-driven: every case is one ``nnexp: error:`` line, exit 2, no run left behind.

Across the command line, configs, data, sweep spaces, storages and the read-back commands. Each
case runs ``python -m nnexp`` in its own folder holding a copy of a small store with one finished
run, and checks: the exit code (2: bad input); exactly one line on stderr, ``nnexp: error: ...``,
naming the bad key or value; no traceback; no password echoed; and afterwards, read with
``MlflowClient``, every store involved still opens and holds exactly the runs it held before
(bad input records nothing, so nothing is left RUNNING).

The cases run as subprocesses in a few threads, once per session (only the selected ones, so
``-k`` works); the test then checks each case's outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hardening_support import TINY, all_runs, copy_store, run

from nnexp.config.store import CONF_DIR

PARALLEL = 3
SECRET = "s3cretpw"
TRAIN = [*TINY, "trainer.epochs=3"]
SWEEP = [*TRAIN, "+sweep=lr", "sweep.n_trials=2", "sweep.log_model=none", "sweep.confirm.top_k=0"]
#: data=csv takes no generator knob: TINY's data.n_samples would be refused first
CSV = ["trainer.progress=false", "trainer.epochs=3", "data=csv", "data.path=d.csv", "data.target=y"]
GOOD_ROWS = "1,2,0\n2,3,1\n" * 20


def _file(name: str, text: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / name).write_text(text)

    return make


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    args: list[str]
    expect: str  # a substring of the error line that names the bad key, value or file
    prepare: Callable[[Path], None] | None = None
    code: int = 2


CASES = [
    # -- command line and config: misspelled keys, unknown options, wrong types, ranges ---------
    Case("misspelled-key", "config", [*TRAIN, "optimizer.lrr=0.1"], "'optimizer.lrr'"),
    Case("key-without-group", "config", [*TRAIN, "epochs=3"], "'epochs'"),
    Case("misspelled-nested-key", "config", [*TRAIN, "trainer.epoch=3"], "'trainer.epoch'"),
    Case("unknown-model", "config", [*TRAIN, "model=huge"], "unknown option 'huge' for 'model'"),
    Case("unknown-optimizer", "config", [*TRAIN, "optimizer=lion"], "'lion' for 'optimizer'"),
    Case("unknown-trainer", "config", [*TRAIN, "trainer=fast"], "'fast' for 'trainer'"),
    Case(
        "unknown-launcher",
        "config",
        [*TRAIN, "launcher=nope"],
        "unknown option 'nope' for 'launcher'",
    ),
    Case("unknown-tracking", "config", [*TRAIN, "tracking=cloud"], "'cloud' for 'tracking'"),
    Case("unknown-data", "config", [*TRAIN, "data=mnist"], "'mnist' for 'data'"),
    Case("unknown-experiment", "config", [*TRAIN, "+experiment=nope"], "'nope' for 'experiment'"),
    Case("type-lr-text", "config", [*TRAIN, "optimizer.lr=abc"], "optimizer.lr=abc"),
    Case("type-epochs-float", "config", [*TRAIN, "trainer.epochs=1.5"], "trainer.epochs=1.5"),
    Case("type-hidden-text", "config", [*TRAIN, "model.hidden_sizes=abc"], "model.hidden_sizes"),
    Case("type-bool", "config", [*TRAIN, "trainer.shuffle=maybe"], "trainer.shuffle=maybe"),
    Case("type-seed", "config", [*TRAIN, "seed=x"], "seed=x"),
    Case("lr-zero", "config", [*TRAIN, "optimizer.lr=0"], "optimizer.lr=0.0 is invalid"),
    Case("lr-negative", "config", [*TRAIN, "optimizer.lr=-1e-3"], "optimizer.lr=-0.001"),
    Case("epochs-zero", "config", [*TINY, "trainer.epochs=0"], "trainer.epochs=0 is invalid"),
    Case("val-fraction-above-1", "config", [*TRAIN, "data.val_fraction=1.5"], "val_fraction=1.5"),
    Case(
        "test-fraction-negative",
        "config",
        [*TRAIN, "data.test_fraction=-0.1"],
        "test_fraction=-0.1",
    ),
    Case(
        "fractions-sum-to-1",
        "config",
        [*TRAIN, "data.val_fraction=0.5", "data.test_fraction=0.5"],
        "data.val_fraction + data.test_fraction=1.0",
    ),
    Case("label-noise-2", "config", [*TRAIN, "data.label_noise=2"], "data.label_noise=2.0"),
    Case("hidden-size-zero", "config", [*TRAIN, "model.hidden_sizes=[0]"], "hidden_sizes[0]=0"),
    Case(
        "hidden-size-zero-2nd", "config", [*TRAIN, "model.hidden_sizes=[16,0]"], "hidden_sizes[1]=0"
    ),
    Case("dropout-one", "config", [*TRAIN, "model.dropout=1.0"], "model.dropout=1.0"),
    Case("n-samples-zero", "config", ["data.n_samples=0", "trainer.epochs=3"], "n_samples=0"),
    Case(
        "batch-larger-than-data",
        "config",
        [*TRAIN, "trainer.batch_size=1000"],
        "trainer.batch_size=1000 is invalid: larger than the 60 training samples",
    ),
    Case(
        "sigmoid-head-on-negative-targets",
        "config",
        [*TRAIN, "data=sine", "model.output=sigmoid", "model.loss=mse"],
        "model.output=sigmoid is invalid for data=sine: the train split's targets do not fit the "
        "model's sigmoid head (mse, 1 unit(s)): targets span [",
    ),
    # -- sweeps: settings and spaces that cannot work ---------------------------------------------
    Case(
        "sweep-low-above-high",
        "sweep",
        [*SWEEP, "sweep.space.lr.low=1", "sweep.space.lr.high=0.5"],
        "sweep.space.lr: low=1.0 >= high=0.5",
    ),
    Case(
        "sweep-log-low-zero",
        "sweep",
        [*SWEEP, "sweep.space.lr.low=0"],
        "sweep.space.lr: log=true needs low > 0",
    ),
    Case(
        "sweep-empty-choices",
        "sweep",
        [*TRAIN, "+sweep=activation", "sweep.n_trials=2", "sweep.space.activation.choices=[]"],
        "sweep.space.activation.choices is empty",
    ),
    Case(
        "sweep-unknown-key",
        "sweep",
        [*SWEEP, "sweep.space.lr.key=optimizer.lrx"],
        "key 'optimizer.lrx' is not in the config",
    ),
    Case(
        "sweep-unknown-group-option",
        "sweep",
        [
            *TRAIN,
            "+sweep=optimizer",
            "sweep.n_trials=2",
            "sweep.space.optimizer.choices=[adam,lion]",
        ],
        "unknown option 'lion' for config group 'optimizer'",
    ),
    Case("sweep-zero-trials", "sweep", [*TRAIN, "+sweep=lr", "sweep.n_trials=0"], "n_trials=0"),
    Case("sweep-zero-workers", "sweep", [*SWEEP, "sweep.workers=0"], "sweep.workers=0"),
    Case("sweep-bad-metric", "sweep", [*SWEEP, "sweep.metric=val_foo"], "sweep.metric='val_foo'"),
    Case(
        "sweep-metric-wrong-task",
        "sweep",
        [*SWEEP, "data=sine", "sweep.metric=final_val_accuracy"],
        "data=sine is a regression task",
    ),
    Case("sweep-bad-study-name", "sweep", [*SWEEP, "sweep.study_name=a/b"], "study_name='a/b'"),
    Case("sweep-misspelled-key", "sweep", [*TRAIN, "+sweep=lr", "sweep.n_trails=3"], "n_trails"),
    Case(
        "sweep-wrong-type", "sweep", [*TRAIN, "+sweep=lr", "sweep.n_trials=many"], "n_trials=many"
    ),
    Case("sweep-log-not-bool", "sweep", [*SWEEP, "sweep.space.lr.log=ture"], "lr.log=ture"),
    Case("sweep-unknown", "sweep", [*TRAIN, "+sweep=nope"], "unknown option 'nope' for 'sweep'"),
    # -- data: missing or malformed CSV -------------------------------------------------------------
    Case(
        "csv-missing-file",
        "data",
        ["trainer.progress=false", "data=csv", "data.path=no.csv", "data.target=y"],
        "no.csv",
    ),
    Case(
        "csv-no-path", "data", ["trainer.progress=false", "data=csv"], "data.path=None is invalid"
    ),
    Case(
        "csv-nan-cell",
        "data",
        CSV,
        "row 2 (line 3 of the file), column 'a': missing/non-finite value 'nan'",
        _file("d.csv", "a,b,y\n1,2,0\nnan,3,1\n" + GOOD_ROWS),
    ),
    Case(
        "csv-text-cell",
        "data",
        CSV,
        "column 'b': non-numeric value 'abc'",
        _file("d.csv", "a,b,y\n1,2,0\n4,abc,1\n" + GOOD_ROWS),
    ),
    Case(
        "csv-one-class",
        "data",
        [*CSV, "data.task=classification"],
        "target column 'y' has only one class",
        _file("d.csv", "a,b,y\n" + "1,2,0\n2,3,0\n" * 20),
    ),
    Case("csv-empty", "data", CSV, "d.csv: file is empty", _file("d.csv", "")),
    Case("csv-header-only", "data", CSV, "header only, no data rows", _file("d.csv", "a,b,y\n")),
    Case(
        "csv-no-target-column",
        "data",
        [*CSV[:-1], "data.target=label"],
        "target column 'label' not found; available columns: a, b, y",
        _file("d.csv", "a,b,y\n" + GOOD_ROWS),
    ),
    # -- stores: unwritable, unreachable, malformed ------------------------------------------------
    Case(
        "store-folder-is-a-file",
        "store",
        [*TRAIN, "tracking.uri=sqlite:///{dir}/afile/mlflow.db"],
        "afile",
        _file("afile", "a file where the store's folder should be"),
    ),
    Case(
        "store-folder-cannot-be-made",
        "store",
        [*TRAIN, "tracking.uri=sqlite:////proc/nnexp/mlflow.db"],
        "cannot create the MLflow store folder /proc/nnexp",
    ),
    Case(
        "artifacts-folder-is-a-file",
        "store",
        [*TRAIN, "tracking.experiment_name=new", "tracking.artifact_location={dir}/afile/art"],
        "afile/art",
        _file("afile", "a file where the artifacts' folder should be"),
    ),
    Case(
        "tracking-server-unreachable",
        "store",
        [*TRAIN, "tracking.uri=http://127.0.0.1:9"],
        "cannot reach the MLflow tracking server http://127.0.0.1:9",
    ),
    Case(
        "tracking-database-unreachable",
        "store",
        [*TRAIN, f"tracking.uri=postgresql://u:{SECRET}@127.0.0.1:9/x"],
        "cannot reach the MLflow database postgresql://u:***@127.0.0.1:9/x",
    ),
    Case(
        "tracking-uri-bogus",
        "store",
        [*TRAIN, "tracking.uri=bogus://x"],
        "tracking.uri='bogus://x'",
    ),
    Case("tracking-uri-empty", "store", [*TRAIN, "tracking.uri="], "tracking.uri='' is invalid"),
    Case(
        "sweep-storage-unreachable",
        "store",
        [*SWEEP, f"sweep.storage=postgresql+psycopg://u:{SECRET}@127.0.0.1:9/x"],
        "Optuna storage postgresql+psycopg://u:***@127.0.0.1:9/x",
    ),
    Case(
        "sweep-storage-nonsense",
        "store",
        [*SWEEP, "sweep.storage=nonsense"],
        "cannot open the Optuna storage nonsense",
    ),
    # -- caught once the data or the store are known, still before anything is recorded (12.9) ----
    Case(
        "early-stopping-monitor-typo",
        "config",
        [
            *TRAIN,
            "trainer=early_stopping",
            "trainer.epochs=3",
            "trainer.early_stopping.monitor=val_lose",
        ],
        "trainer.early_stopping.monitor='val_lose' is invalid: valid choices: val_loss, "
        "val_accuracy, train_loss, train_accuracy, val_rmse, val_r2, train_rmse, train_r2",
    ),
    Case(
        "early-stopping-monitor-wrong-task",
        "config",
        [
            *TRAIN,
            "data=sine",
            "trainer=early_stopping",
            "trainer.epochs=3",
            "trainer.early_stopping.monitor=val_accuracy",
        ],
        "data=sine is a regression task; valid choices: val_loss, val_rmse, val_r2",
    ),
    # -- values that would have had no effect, and one_cycle phases without a step ----------------
    Case(
        "one-cycle-empty-warmup-epoch-interval",
        "config",
        [
            *TINY,
            "trainer.epochs=20",
            "optimizer.schedule.name=one_cycle",
            "optimizer.schedule.pct_start=0.05",
            "optimizer.schedule.interval=epoch",
        ],
        "optimizer.schedule.pct_start=0.05 is invalid: one_cycle steps 20 times (20 epochs, "
        "interval=epoch); its warm-up ends at step pct_start * 20 - 1 = 0, so it has no step "
        "(torch's OneCycleLR divides by its zero length); use pct_start in (0.05, 1)",
    ),
    Case(
        "one-cycle-empty-warmup-steps",
        "config",
        [
            *TINY,
            "trainer.epochs=20",
            "optimizer.schedule.name=one_cycle",
            "optimizer.schedule.pct_start=0.025",
            "trainer.batch_size=30",
        ],
        "pct_start=0.025 is invalid: one_cycle steps 40 times (20 epochs x 2 steps "
        "(batch_size=30 of 60 training samples), interval=step)",
    ),
    Case(
        "one-cycle-empty-warmup-full-batch",
        "config",
        [
            *TINY,
            "trainer.epochs=20",
            "optimizer.schedule.name=one_cycle",
            "optimizer.schedule.pct_start=0.05",
            "trainer.batch_size=null",
        ],
        "20 epochs x 1 step (full batch), interval=step); its warm-up ends at step",
    ),
    Case(
        "one-cycle-three-phase-empty-last-phase",
        "config",
        [
            *TINY,
            "trainer.epochs=20",
            "optimizer.schedule.name=one_cycle",
            "optimizer.schedule.interval=epoch",
            "optimizer.schedule.three_phase=true",
            "optimizer.schedule.pct_start=0.6",
        ],
        "its last phase starts at step 2 * pct_start * 20 - 2 = 22, not before the last step "
        "19, so it has no step; use pct_start in (0.05, 0.525)",
    ),
    Case(
        "sweep-space-one-cycle-pct-start",
        "sweep",
        [
            *SWEEP,
            "optimizer.schedule.name=one_cycle",
            "sweep.space.lr.key=optimizer.schedule.pct_start",
            "sweep.space.lr.low=0.001",
            "sweep.space.lr.high=0.5",
        ],
        "sweep.space.lr: optimizer.schedule.pct_start=0.001 cannot run: "
        "optimizer.schedule.pct_start=0.001 is invalid",
    ),
    Case(
        "linear-model-batchnorm",
        "config",
        [*TRAIN, "model=linear", "model.norm=batch", "trainer.batch_size=7"],
        "model.norm='batch' is invalid: it has no effect without a hidden layer "
        "(model.hidden_sizes=[]); valid choices: none",
    ),
    Case(
        "no-hidden-layer-layernorm",
        "config",
        [*TRAIN, "model.hidden_sizes=[]", "model.norm=layer"],
        "model.norm='layer' is invalid: it has no effect without a hidden layer",
    ),
    Case(
        "no-hidden-layer-dropout",
        "config",
        [*TRAIN, "model.hidden_sizes=[]", "model.dropout=0.3"],
        "model.dropout=0.3 is invalid: it has no effect without a hidden layer",
    ),
    Case(
        "linear-model-activation",
        "config",
        [*TRAIN, "model=linear", "model.activation=relu"],
        "model.activation='relu' is invalid: it has no effect without a hidden layer "
        "(model.hidden_sizes=[]); valid choices: identity",
    ),
    Case(
        "sweep-dropout-without-hidden-layer",
        "sweep",
        [
            *TRAIN,
            "+sweep=regularization",
            "sweep.n_trials=2",
            "sweep.log_model=none",
            "sweep.confirm.top_k=0",
            "model.hidden_sizes=[]",
        ],
        "sweep.space.dropout: model.dropout=0.6 cannot run: model.dropout=0.6 is invalid: it "
        "has no effect without a hidden layer",
    ),
    Case(
        "sweep-activation-without-hidden-layer",
        "sweep",
        [
            *TRAIN,
            "+sweep=activation",
            "sweep.n_trials=2",
            "sweep.log_model=none",
            "sweep.confirm.top_k=0",
            "model=linear",
        ],
        "cannot run: model.activation=",
    ),
    Case(
        "xor-n-samples",
        "config",
        ["trainer.progress=false", "trainer.epochs=3", "data=xor", "data.n_samples=50"],
        "data.n_samples=50 is invalid: data=xor does not take it (it takes: no generator knob)",
    ),
    Case(
        "xor-noise",
        "config",
        ["trainer.progress=false", "trainer.epochs=3", "data=xor", "data.noise=0.7"],
        "data.noise=0.7 is invalid: data=xor does not take it",
    ),
    Case(
        "iris-noise",
        "config",
        ["trainer.progress=false", "trainer.epochs=3", "data=iris", "data.noise=0.9"],
        "data.noise=0.9 is invalid: data=iris does not take it",
    ),
    *[
        Case(
            f"moons-{knob}",
            "config",
            [*TRAIN, f"data.{knob}={value}"],
            f"data.{knob}={value} is invalid: data=moons does not take it (it takes: "
            "n_samples, noise)",
        )
        for knob, value in (
            ("factor", "0.3"),
            ("n_arms", "5"),
            ("centers", "4"),
            ("cluster_std", "2.0"),
            ("n_features", "3"),
        )
    ],
    Case(
        "early-stopping-patience-while-disabled",
        "config",
        [*TRAIN, "trainer.early_stopping.patience=3"],
        "trainer.early_stopping.patience=3 is invalid: it has no effect while early stopping is "
        "disabled",
    ),
    Case(
        "early-stopping-monitor-while-disabled",
        "config",
        [*TRAIN, "trainer.early_stopping.monitor=val_accuracy"],
        "trainer.early_stopping.monitor='val_accuracy' is invalid: it has no effect while early "
        "stopping is disabled",
    ),
    Case(
        "cosine-warmup-longer-than-the-run",
        "config",
        [
            *TINY,
            "trainer.epochs=20",
            "optimizer.schedule.name=cosine",
            "optimizer.schedule.interval=step",
            "optimizer.schedule.warmup_epochs=25",
        ],
        "optimizer.schedule.warmup_epochs=25 is invalid: must be < trainer.epochs=20",
    ),
    Case(
        "early-stopping-monitor-grad-norm",
        "config",
        [
            *TRAIN,
            "trainer=early_stopping",
            "trainer.epochs=3",
            "trainer.clip_grad_norm=1",
            "trainer.early_stopping.monitor=grad_norm",
        ],
        "train_rmse, train_r2 (those of the data's task; grad_norm is for "
        "optimizer.schedule.monitor)",
    ),
    Case(
        "plus-misspelled-key",
        "config",
        [*TRAIN, "+optimizer.lrr=5"],
        "unknown config key 'optimizer.lrr'; valid keys in 'optimizer': name, lr,",
    ),
    Case(
        "plus-unknown-group",
        "config",
        [*TRAIN, "+launchr=slurm"],
        "unknown config key 'launchr'; valid keys in the root config: seed, data,",
    ),
    Case(
        "launcher-option-on-a-single-run",
        "config",
        [*TRAIN, "launcher.partition=gpu"],
        "launcher.partition=gpu has no effect on a single run",
    ),
    Case(
        "csv-constant-target",
        "data",
        [*CSV, "data.task=regression"],
        "target column 'y' is constant (every value is 3.5)",
        _file("d.csv", "a,b,y\n" + "1,2,3.5\n2,3,3.5\n" * 20),
    ),
    Case(
        "csv-huge-target",
        "data",
        [*CSV, "data.task=regression"],
        "row 1 (line 2 of the file), column 'y': value '1e308' is too large",
        _file("d.csv", "a,b,y\n" + "1,2,1e308\n2,3,-1e308\n" * 20),
    ),
    Case(
        "csv-binary-file",
        "data",
        CSV,
        "d.csv: not a UTF-8 text file (cannot decode byte 0x80",
        lambda folder: (folder / "d.csv").write_bytes(bytes(range(256)) * 8),
    ),
    Case(
        "csv-device",
        "data",
        [*CSV[:-2], "data.path=/dev/zero", "data.target=y"],
        "not a regular file (a device, pipe or socket): /dev/zero",
    ),
    Case(
        "artifacts-ftp-unreachable",
        "store",
        [*TRAIN, "tracking.experiment_name=new", "tracking.artifact_location=ftp://127.0.0.1:1/x"],
        "cannot reach the artifact store ftp://127.0.0.1:1/x (127.0.0.1:1): Connection refused",
    ),
    Case(
        "artifacts-unknown-scheme",
        "store",
        [*TRAIN, "tracking.experiment_name=new", "tracking.artifact_location=gopher://h/x"],
        "tracking.artifact_location='gopher://h/x' is invalid: unsupported scheme 'gopher://'",
    ),
    Case(
        "artifacts-differ-from-the-experiment",
        "store",
        [*TRAIN, "tracking.artifact_location={dir}/elsewhere"],
        "cannot apply: experiment 'nnexp' already keeps its artifacts in file://",
    ),
    Case(
        "store-db-is-a-directory",
        "store",
        [*TRAIN, "tracking.uri=sqlite:///{dir}/d/mlflow.db"],
        "the MLflow store {dir}/d/mlflow.db is not a file (a directory?)",
        lambda folder: (folder / "d" / "mlflow.db").mkdir(parents=True),
    ),
    Case(
        "store-db-is-not-sqlite",
        "store",
        [*TRAIN, "tracking.uri=sqlite:///{dir}/notes.db"],
        "the MLflow store {dir}/notes.db is not a SQLite database",
        _file("notes.db", "shopping list\n"),
    ),
    Case(
        "store-inside-the-config-folder",
        "store",
        [*TRAIN, f"tracking.uri=sqlite:///{CONF_DIR}/mlruns/mlflow.db"],
        f"the MLflow store {CONF_DIR}/mlruns/mlflow.db is inside the config folder",
    ),
    Case(
        "sweep-test-metric-without-test-split",
        "sweep",
        [*SWEEP, "sweep.metric=test_loss", "data.test_fraction=0"],
        "sweep.metric='test_loss' is invalid: data.test_fraction=0.0 leaves no test split",
    ),
    Case(
        "sweep-batch-larger-than-data",
        "sweep",
        [*SWEEP, "trainer.batch_size=1000"],
        "trainer.batch_size=1000 is invalid: larger than the 60 training samples",
    ),
    Case(
        "sweep-space-batch-larger-than-data",
        "sweep",
        [
            *SWEEP,
            "sweep.space.lr.key=trainer.batch_size",
            "sweep.space.lr.type=int",
            "sweep.space.lr.low=16",
            "sweep.space.lr.high=1000",
            "sweep.space.lr.log=false",
        ],
        "sweep.space.lr: trainer.batch_size=1000 cannot run: trainer.batch_size=1000 is invalid",
    ),
    Case(
        "sweep-monitor-typo",
        "sweep",
        [*SWEEP, "trainer.early_stopping.monitor=val_lose"],
        "trainer.early_stopping.monitor='val_lose' is invalid",
    ),
    # -- reading back: reproduce, runs, compare -----------------------------------------------------
    Case(
        "reproduce-unknown-run",
        "commands",
        ["reproduce", "0123456789abcdef0123456789abcdef"],
        "no run with id '0123456789abcdef0123456789abcdef'",
    ),
    Case("reproduce-unknown-prefix", "commands", ["reproduce", "deadbeef"], "'deadbeef'"),
    Case(
        "reproduce-missing-store",
        "commands",
        ["reproduce", "deadbeef", "--tracking-uri", "sqlite:///{dir}/none/mlflow.db"],
        "no MLflow store at",
    ),
    Case("reproduce-no-run-id", "commands", ["reproduce"], "required: RUN_ID"),
    Case("compare-unknown-runs", "commands", ["compare", "deadbeef", "cafebabe"], "'deadbeef'"),
    Case("confirm-unknown-parent", "commands", ["confirm", "deadbeef"], "'deadbeef'"),
    Case("confirm-seeds-not-a-number", "commands", ["confirm", "x", "--seeds", "many"], "many"),
    Case("runs-unknown-flag", "commands", ["runs", "--bogus"], "unrecognized arguments: --bogus"),
    # Hydra's own flags: argparse printed a usage block of 8 lines before its error
    Case("unknown-flag", "config", [*TRAIN, "--bogus"], "unrecognized arguments: --bogus"),
    Case("cfg-without-value", "config", [*TRAIN, "--cfg"], "argument --cfg/-c: expected one"),
    Case("cfg-bad-value", "config", [*TRAIN, "--cfg", "jobs"], "invalid choice: 'jobs'"),
    Case("two-modes", "config", [*TRAIN, "-m", "--cfg", "job"], "only one of --run, --multirun"),
    # a multirun's store refused when its parent is made: Hydra's 2-line UserWarning came first
    Case(
        "multirun-bad-store",
        "store",
        ["-m", *TRAIN, "optimizer.lr=0.1,0.2", "tracking.uri=ftp://x"],
        "tracking.uri='ftp://x' is invalid: expected a URI starting with sqlite://",
    ),
    # -- the command line (session 10): sweeps -m cannot expand, sweep.* without a sweep, flags --
    Case(
        "multirun-glob-no-effect",  # glob() was expanded only by Hydra: no check, no parent
        "config",
        ["-m", *TRAIN, "optimizer=glob(*)", "optimizer.betas=[0.9,0.99]"],
        "optimizer.betas=[0.9, 0.99] is invalid: it has no effect on optimizer=momentum",
    ),
    Case(
        "multirun-glob-no-match",
        "config",
        ["-m", *TRAIN, "optimizer=glob(lion*)"],
        "optimizer=glob(lion*) matches no option of 'optimizer'; valid options: adam, adamw,",
    ),
    Case(
        "multirun-interval",  # failed after the parent existed (left FAILED)
        "config",
        ["-m", *TRAIN, "optimizer.lr=interval(0.01,0.1)"],
        "optimizer.lr=interval(0.01,0.1): -m cannot sweep interval(): Hydra's multirun runs a "
        "list of values and an interval has infinitely many; sample it in a sweep instead "
        "(+sweep=NAME with a space, e.g. +sweep=lr), or give -m a range(start,stop[,step]), a "
        "choice(a,b) or a glob(pattern)",
    ),
    Case(
        "multirun-range-reversed",  # was "requires --multirun" although -m was given
        "config",
        ["-m", *TRAIN, "seed=range(3,1)"],
        "seed=range(3,1) is empty: range(start,stop[,step]) counts from start up to stop",
    ),
    Case("multirun-range-zero", "config", ["-m", *TRAIN, "seed=range(0,0)"], "range(0,0) is empty"),
    Case(
        "delete-required-key",  # was "unknown config key 'seed'" listing seed as valid
        "config",
        [*TRAIN, "~seed"],
        "~seed: 'seed' cannot be deleted: the schema requires it; set a value instead",
    ),
    Case(
        "sweep-key-without-sweep",  # an AssertionError of OmegaConf, exit 1
        "sweep",
        [*TRAIN, "sweep.n_trials=3"],
        "sweep.n_trials=3: sweep.* settings need a sweep: select one with +sweep=NAME (shipped: "
        "activation, arch, capacity, capacity_width, digits, lr, optimizer, regularization)",
    ),
    Case(
        "sweep-added-key-without-sweep",
        "sweep",
        [*TRAIN, "+sweep.n_trials=3"],
        "+sweep.n_trials=3: sweep.* settings need a sweep: select one with +sweep=NAME",
    ),
    Case(
        "sweep-name-without-sweep",
        "sweep",
        [*TRAIN, "sweep.name=x"],
        "sweep.name=x: sweep.* settings need a sweep",
    ),
    Case(
        "sweep-arg-without-sweep",
        "sweep",
        [*TRAIN, "sweep.pruner.args.percentile=25"],
        "sweep.pruner.args.percentile=25: sweep.* settings need a sweep",
    ),
    Case(
        "multirun-sweep-key-without-sweep",
        "sweep",
        ["-m", *TRAIN, "optimizer.lr=0.1,0.2", 'sweep.space.width.format="x"'],
        'sweep.space.width.format="x": sweep.* settings need a sweep',
    ),
    Case(
        "sweep-group-without-plus",
        "sweep",
        [*TRAIN, "sweep=lr"],
        "sweep=lr: cannot override 'sweep': it is not in the defaults list of conf/config.yaml; "
        "add it with a '+': use +sweep=lr",
    ),
    Case(
        "sweep-pruner-missing-argument",  # was Optuna's TypeError about __init__
        "sweep",
        [*SWEEP, "sweep.pruner.name=percentile"],
        "sweep.pruner.name=percentile needs percentile, which has no default: set "
        "+sweep.pruner.args.percentile=VALUE",
    ),
    Case(
        "sweep-pruner-argument-without-plus",
        "sweep",
        [*SWEEP, "sweep.pruner.name=percentile", "sweep.pruner.args.percentile=25"],
        "unknown config key 'sweep.pruner.args.percentile': 'sweep.pruner.args' sets "
        "n_startup_trials, n_warmup_steps, interval_steps so far; to add it use "
        "+sweep.pruner.args.percentile=25",
    ),
    Case(
        "sweep-space-unknown-entry",  # listed no valid keys
        "sweep",
        [*SWEEP, "sweep.space.width.low=1"],
        "unknown config key 'sweep.space.width'; valid keys in 'sweep.space': lr",
    ),
    Case(
        "resolve-without-cfg",  # Hydra's ValueError, exit 1
        "config",
        ["--resolve"],
        "--resolve needs --cfg (job, hydra or all) or --help",
    ),
    Case(
        "package-without-cfg",  # trained a full run
        "config",
        [*TRAIN, "-p", "optimizer"],
        "-p/--package optimizer needs --cfg",
    ),
    Case("runs-unknown-experiment", "commands", ["runs", "--experiment", "nope"], "'nope'"),
    Case("runs-unknown-sort", "commands", ["runs", "--sort", "bogus_metric"], "'bogus_metric'"),
    Case(
        "runs-database-unreachable",
        "commands",
        ["runs", "--tracking-uri", f"postgresql://u:{SECRET}@127.0.0.1:9/x"],
        "cannot reach the MLflow database postgresql://u:***@127.0.0.1:9/x",
    ),
    # output/task mismatches (session 10)
    Case(
        "identity-output-on-two-classes",
        "config",
        [*TRAIN, "data=moons", "model.output=identity"],
        "model.output='identity' is invalid for the classification data set 'moons' (2 classes): "
        "valid outputs: auto, sigmoid, softmax",
    ),
    Case(
        "identity-mse-on-three-classes",
        "config",
        [*TRAIN, "data=blobs", "model.output=identity", "model.loss=mse"],
        "model.output='identity' is invalid for the classification data set 'blobs' (3 classes): "
        "valid outputs: auto, softmax",
    ),
    Case(
        "sigmoid-output-on-three-classes",
        "config",
        [*TRAIN, "data=blobs", "model.output=sigmoid", "model.loss=mse"],
        "model.output='sigmoid' is invalid for the classification data set 'blobs' (3 classes): "
        "valid outputs: auto, softmax",
    ),
    Case(
        "sigmoid-output-on-regression",
        "config",
        [*TRAIN, "data=sine", "model.output=sigmoid"],
        "model.output='sigmoid' with model.loss='auto' (auto picks bce) is invalid for the "
        "regression data set 'sine': bce is for classification; valid outputs: auto, identity, "
        "sigmoid (with model.loss=mse)",
    ),
    Case(
        "sigmoid-bce-on-csv-regression",
        "config",
        [*CSV, "model.output=sigmoid", "model.loss=bce"],
        "model.output='sigmoid' with model.loss='bce' is invalid for the regression data set "
        "'csv': bce is for classification",
        _file("d.csv", "a,b,y\n" + "".join(f"{i},{i % 7},{i * 0.37:.2f}\n" for i in range(40))),
    ),
    Case(
        "softmax-output-on-regression",
        "config",
        [*TRAIN, "data=sine", "model.output=softmax", "model.loss=mse"],
        "model.output='softmax' is invalid for the regression data set 'sine': valid outputs: "
        "auto, identity, sigmoid (with model.loss=mse)",
    ),
    Case(
        "cross-entropy-with-auto-binary-head",
        "config",
        [*TRAIN, "model.loss=cross_entropy"],
        "model.loss='cross_entropy' is invalid with model.output='auto' (auto picks sigmoid here) "
        "on the classification data set 'moons' (2 classes): valid losses: auto, bce, mse",
    ),
    Case(
        "bce-loss-on-regression",
        "config",
        [*TRAIN, "data=sine", "model.output=identity", "model.loss=bce"],
        "model.loss='bce' is invalid with model.output='identity' on the regression data set "
        "'sine': valid losses: auto, mse",
    ),
    Case(
        "multirun-identity-output-on-classes",
        "config",
        ["-m", *TRAIN, "model.output=auto,identity"],
        "model.output='identity' is invalid for the classification data set 'moons'",
    ),
    Case(
        "multirun-sigmoid-output-across-data",
        "config",
        ["-m", *TRAIN, "data=moons,sine", "model.output=sigmoid,softmax"],
        "model.output='sigmoid' with model.loss='auto' (auto picks bce) is invalid for the "
        "regression data set 'sine'",
    ),
]


#: Refused before MLflow is imported: seconds even on a loaded machine.
FAIL_BEFORE_MLFLOW = {
    "store-db-is-a-directory",
    "store-db-is-not-sqlite",
    "artifacts-ftp-unreachable",
    "runs-database-unreachable",
}


@dataclass
class Outcome:
    case: Case
    folder: Path
    code: int
    stdout: str
    stderr: str
    seconds: float


def _run_case(case: Case, root: Path, template: Path) -> Outcome:
    """Run ``case`` in ``root/<id>``, a copy of the template store in it."""
    folder = root / case.id
    folder.mkdir()
    copy_store(template, folder)
    if case.prepare is not None:
        case.prepare(folder)
    args = [arg.replace("{dir}", str(folder)) for arg in case.args]
    started = time.monotonic()
    done = run(args, folder, timeout=120)
    seconds = time.monotonic() - started
    return Outcome(case, folder, done.returncode, done.stdout, done.stderr, seconds)


@pytest.fixture(scope="module")
def template_runs(template_store: Path) -> set[str]:
    return {r.info.run_id for r in all_runs(template_store / "mlruns" / "mlflow.db")}


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, template_store: Path
) -> dict[str, Outcome]:
    """Run the selected cases, a few at a time."""
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bad_input" and hasattr(item, "callspec")
    }
    root = tmp_path_factory.mktemp("bad-inputs")
    cases = [case for case in CASES if case.id in selected]
    with ThreadPoolExecutor(PARALLEL) as pool:
        done = pool.map(lambda case: _run_case(case, root, template_store), cases)
        return {outcome.case.id: outcome for outcome in done}


def test_every_config_group_and_subcommand_has_a_bad_input_case() -> None:
    """Checked against nnexp itself, not against this table: a config group (``conf/``, and
    ``experiment``) or a subcommand added without a bad-input case fails here."""
    from nnexp.cli import SUBCOMMANDS
    from nnexp.config.store import CONF_DIR

    groups = {path.name for path in CONF_DIR.iterdir() if path.is_dir()} | {"experiment"}
    unknown_option = {
        group
        for group in groups
        for case in CASES
        if f"unknown option 'nope' for '{group}'" in case.expect
        or case.expect.endswith(f"for '{group}'")
    }
    assert unknown_option == groups, sorted(groups - unknown_option)
    commands = {case.args[0] for case in CASES if case.category == "commands"}
    assert commands == set(SUBCOMMANDS)
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, outcomes: dict[str, Outcome], template_runs: set[str]) -> None:
    outcome = outcomes[case.id]
    report = f"exit {outcome.code}\nstderr:\n{outcome.stderr}\nstdout:\n{outcome.stdout[-2000:]}"
    assert outcome.code == case.code, report
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, report
    assert lines[0].startswith("nnexp: error: "), report
    assert case.expect.replace("{dir}", str(outcome.folder)) in lines[0], report
    assert "Traceback" not in outcome.stderr + outcome.stdout, report
    assert SECRET not in outcome.stderr + outcome.stdout, report
    db = outcome.folder / "mlruns" / "mlflow.db"  # the store every case starts with
    runs = all_runs(db)  # still opens, lists its runs
    assert not [r for r in runs if r.info.status == "RUNNING"], report
    assert {r.info.run_id for r in runs} == template_runs, ("a run was recorded", report)
    assert not (outcome.folder / "none").exists()  # reading a missing store creates none
    assert not (outcome.folder / "mlruns" / ".hydra").exists(), report  # no multirun folder
    assert not (CONF_DIR / "mlruns").exists()  # a store never lands in the config folder
    if case.id in FAIL_BEFORE_MLFLOW:  # an mlflow.db that was a directory took 108 s of retries
        assert outcome.seconds < 60, report
