"""User-facing errors.

Anything the user can fix (a bad override, a missing file, an unreachable store) is raised as a
:class:`NnexpError` whose message is one line naming the bad value and what is valid. The command
line prints that line and exits non-zero, without a traceback unless ``NNEXP_TRACEBACK=1``.
"""


class NnexpError(Exception):
    """An error caused by the user's input, reported as one line."""


class ConfigError(NnexpError):
    """A configuration value is of the wrong type or out of range."""


class TrackingError(NnexpError):
    """The MLflow store cannot be reached or written."""


class Uncaught(BaseException):
    """Carries an :class:`NnexpError` through code that swallows ``Exception``: Hydra turns a
    callback's exception into a warning and goes on (a refused multirun would run anyway).
    ``nnexp.cli`` reports the error it carries as if it had been raised."""

    def __init__(self, error: NnexpError) -> None:
        super().__init__(str(error))
        self.error = error


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its type's name when it has none: what a
    one-line ``nnexp: error:`` says of an error raised by a library."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]
