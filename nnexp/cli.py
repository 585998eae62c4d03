"""The command line: ``python -m nnexp [overrides]`` and the ``nnexp`` console script.

Hydra parses the command line and composes the config; this module turns every failure into
one line on stderr and a non-zero exit (2 for bad input, 1 for a crash, 130/143 for Ctrl-C and
SIGTERM), after ending any MLflow run still open. ``NNEXP_TRACEBACK=1`` shows the traceback.
Heavy libraries (MLflow, Optuna, matplotlib) are imported only when a run needs them.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

EXIT_BAD_INPUT = 2
EXIT_CRASH = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what cat, git or ls exit with when the reader goes away
TRACEBACK_ENV = "NNEXP_TRACEBACK"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (also used by ``python -m nnexp``).

    Everything printed meanwhile, by nnexp or any library, passes through password redaction
    (:mod:`nnexp.redacted_output`).
    """
    from nnexp.redacted_output import redacted_console

    with redacted_console():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    from nnexp.signals import install_signal_handlers, raise_if_stop_requested

    install_signal_handlers()
    args = sys.argv[1:]
    if args and args[0] in SUBCOMMANDS:
        try:
            return _subcommand(args[0], args[1:])
        except BaseException as exc:  # the same one-line errors and run endings as a run
            return _report(exc)
    if args in (["--help"], ["-h"]):
        try:
            print(fast_help(), flush=True)
            return 0
        except BaseException as exc:
            return _report(exc)
    if not any(arg in QUIET_FLAGS or arg.startswith("--cfg=") for arg in args):
        from nnexp.progress import status

        status("composing the config")  # on a terminal: something within a second
    # Let Hydra's exceptions reach us instead of its multi-line report.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    _job_errors.clear()
    _state["main"] = True
    try:
        _check_hydra_flags(args)
        _hydra_entry()
        if _job_errors:
            raise _job_errors[0]
        raise_if_stop_requested()
    except BaseException as exc:  # every exit path must end open runs
        return _report(exc)
    return 0


#: Errors raised by jobs. Hydra would print its own multi-line report for a failed job; nnexp
#: keeps the error, lets a multirun go on with its other jobs, and reports the first one.
_job_errors: list[BaseException] = []
#: ``main`` is True once :func:`main` runs in this process. A job that a launcher runs in another
#: process (hydra-submitit-launcher on Slurm) never went through it: its error is raised, so that
#: Hydra carries it back to the launching process, which reports it.
_state = {"main": False}


#: Hydra's flags that print and exit without running anything: no "composing" line for them.
QUIET_FLAGS = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--version",
               "--shell-completion", "-sc", "--resolve")  # fmt: skip

#: ``python -m nnexp NAME ...`` runs ``nnexp.commands.NAME.main(args) -> exit code``.
SUBCOMMANDS = ("reproduce", "runs", "compare", "confirm")


def _subcommand(name: str, args: list[str]) -> int:
    import importlib

    module = importlib.import_module(f"nnexp.commands.{name}")
    return int(module.main(args))


def fast_help() -> str:
    """What Hydra's ``--help`` prints for the defaults (its template, the header and footer of
    ``conf/config.yaml``), built without Hydra's listing of the config groups, which deep-copies
    its config repository once per group and took most of a second. With overrides
    (``python -m nnexp +sweep=lr --help``), Hydra answers itself.
    """
    from omegaconf import OmegaConf

    from nnexp.config.compose import compose_config
    from nnexp.config.store import CONF_DIR, experiment_names

    help_text = OmegaConf.load(CONF_DIR / "config.yaml").hydra.help
    groups = {
        folder.name: sorted(path.stem for path in folder.glob("*.yaml"))
        for folder in CONF_DIR.iterdir()
        if folder.is_dir() and folder.name != "hydra"
    }
    groups["experiment"] = experiment_names()
    listing = "\n".join(f"{name}: {', '.join(groups[name])}" for name in sorted(groups))
    config = OmegaConf.to_yaml(compose_config(validate=False))
    return (
        f"{help_text.header}\n== Configuration groups ==\n"
        "Compose your configuration from those groups (group=option)\n\n"
        f"{listing}\n\n\n== Config ==\nOverride anything in the config (foo.bar=value)\n\n"
        f"{config}\n\n{help_text.footer}\n"
    )


def _check_hydra_flags(args: list[str]) -> None:
    """Parse Hydra's own flags (``--cfg``, ``-m``, ...) with Hydra's own parser first: argparse
    reports a bad flag with an 8-line usage block; nnexp's errors are one line."""
    if "--version" in args:  # argparse's version action prints and exits: leave it to Hydra
        return
    from hydra._internal.utils import get_args_parser  # the parser hydra.main itself uses

    from nnexp.errors import ConfigError

    def one_line(message: str) -> NoReturn:
        raise ConfigError(f"{message} (see python -m nnexp --help)")

    parser = get_args_parser()
    parser.error = one_line  # type: ignore[method-assign]
    parsed = parser.parse_args(args)
    modes = [parsed.run, parsed.multirun, parsed.cfg, parsed.info, parsed.shell_completion]
    if sum(bool(mode) for mode in modes) > 1:  # Hydra's own rule, raised as a ValueError later
        one_line("only one of --run, --multirun (-m), --cfg, --info and --shell-completion")
    from nnexp.override_check import check_flags, check_overrides

    check_flags(parsed)
    check_overrides(parsed.overrides, bool(parsed.multirun))


def _hydra_entry() -> None:
    import hydra

    from nnexp.config.store import CONF_DIR, register_configs

    register_configs()
    entry = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_task)
    entry()


def _task(cfg: Any) -> Any:
    """One Hydra job; an ``Exception`` is kept for :func:`main` to report (see ``_job_errors``).

    The job runs in the directory the user ran the command in, whatever ``hydra.job.chdir``
    did: the store, ``data.path`` and every relative path are the user's (README "Which store").
    """
    from nnexp.project import in_launch_directory

    try:
        with in_launch_directory():
            return _run_job(cfg)
    except Exception as exc:
        if not _state["main"]:
            raise
        _job_errors.append(exc)
        return None


def _run_job(cfg: Any) -> Any:
    """A sweep if ``+sweep=NAME`` was given, otherwise one run."""
    from hydra.core.hydra_config import HydraConfig

    from nnexp.config.validate import validate_config
    from nnexp.hydra_callbacks import PARENT_RUN_ENV
    from nnexp.progress import status

    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    from nnexp.config.strict import check_known_keys

    check_known_keys(cfg, hydra_cfg.runtime.choices.keys())  # ``+key=`` past the schema
    if cfg.get("sweep") is not None:
        from nnexp.sweep import run_sweep

        status(f"sweep {cfg.sweep.name}: planning the trials, opening the Optuna storage")
        return run_sweep(cfg, overrides)
    from nnexp.launch.slurm_sweep import refuse_launcher_options

    refuse_launcher_options(overrides)
    validate_config(cfg, overrides)
    from nnexp.hydra_callbacks import job_run_name
    from nnexp.report import format_summary, loading_line
    from nnexp.run import run_experiment

    run_name = job_run_name(cfg, overrides)
    status(loading_line(cfg, run_name))
    result = run_experiment(
        cfg,
        overrides=overrides,
        parent_run_id=os.environ.get(PARENT_RUN_ENV),
        run_name=run_name,
    )
    print(format_summary(result), flush=True)
    return result.final_metrics


def _report(exc: BaseException) -> int:
    """End open runs with the status ``exc`` implies, print one line, return the exit code."""
    from nnexp.errors import NnexpError, Uncaught
    from nnexp.redact import redact
    from nnexp.signals import Terminated

    if isinstance(exc, Uncaught):
        exc = exc.error

    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        _end_runs(None if code == 0 else exc)
        return code
    if isinstance(exc, BrokenPipeError):  # `python -m nnexp --help | head -3`: exit quietly
        from nnexp.progress import silence_stdout

        silence_stdout()
        _end_runs(exc)
        return EXIT_BROKEN_PIPE
    _end_runs(exc)
    if os.environ.get(TRACEBACK_ENV) == "1":
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, Terminated):
        _say("terminated (SIGTERM); open runs were ended KILLED")
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        _say("interrupted; open runs were ended KILLED")
        return EXIT_INTERRUPTED
    if isinstance(exc, NnexpError):
        _say(redact(str(exc)))
        return int(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    if isinstance(exc, MemoryError):  # a config that asks for more than the machine has
        from nnexp.errors import first_line

        _say(
            f"not enough memory: {first_line(exc)}; the config asks for more than this machine has "
            "(model.hidden_sizes, data.n_samples, trainer.batch_size size it)"
        )
        return EXIT_BAD_INPUT
    composition = _composition_message(exc)
    if composition is not None:
        _say(redact(composition))
        return EXIT_BAD_INPUT
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = (
        ""
        if os.environ.get(TRACEBACK_ENV) == "1"
        else f" (set {TRACEBACK_ENV}=1 for the traceback)"
    )
    _say(redact(f"{type(exc).__name__}: {first}{hint}"))
    return EXIT_CRASH


def _composition_message(exc: BaseException) -> str | None:
    """A one-line description if ``exc`` is a Hydra/OmegaConf config error, else None."""
    try:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:  # pragma: no cover
        return None
    from nnexp.override_check import composition_hint

    hint = composition_hint(exc, sys.argv[1:])
    if hint is not None and (isinstance(exc, HydraException) or _applying_overrides(exc)):
        return hint
    if isinstance(exc, HydraException | OmegaConfBaseException):
        from nnexp.config.compose import describe_config_error

        return describe_config_error(exc)
    if isinstance(exc, ValueError | TypeError) and _raised_by_hydras_composition(exc):
        return _null_group_message() or str(exc).strip().splitlines()[0]
    return None


def _null_group_message() -> str | None:
    """``model=null``: Hydra says only "Got NoneType"; name the override and the options."""
    from pathlib import Path

    from nnexp.config.store import CONF_DIR

    for word in sys.argv[1:]:
        key, _, value = word.lstrip("+~").partition("=")
        group = Path(CONF_DIR) / key
        if value.strip().lower() in ("null", "~") and group.is_dir():
            options = sorted(path.stem for path in group.glob("*.yaml"))
            return f"{word}: '{key}' is a config group; valid options: {', '.join(options)}"
    return None


def _applying_overrides(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while Hydra applied the overrides to the composed config."""
    import traceback

    return any(
        frame.filename.replace(os.sep, "/").endswith("/hydra/_internal/config_loader_impl.py")
        and frame.name == "_apply_overrides_to_config"
        for frame in traceback.extract_tb(exc.__traceback__)
    )


def _raised_by_hydras_composition(exc: BaseException) -> bool:
    """Whether ``exc`` comes from Hydra reading the overrides and defaults list (bad input),
    rather than from the task Hydra runs."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and any(
        part in frames[-1].filename.replace(os.sep, "/")
        for part in ("/hydra/_internal/defaults_list.py", "/hydra/core/override_parser/")
    )


def _end_runs(exc: BaseException | None) -> None:
    if "nnexp.tracking.recorder" in sys.modules:
        from nnexp.tracking import end_open_runs

        try:
            end_open_runs(exc)
        except Exception as err:  # the store itself may be what failed
            _say(f"could not end an open MLflow run: {type(err).__name__}: {err}")


def _say(message: str) -> None:
    print(f"nnexp: error: {message}", file=sys.stderr, flush=True)
