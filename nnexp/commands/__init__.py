"""Subcommands that read the MLflow record: ``python -m nnexp reproduce|runs|compare ARGS``.

:mod:`nnexp.cli` dispatches ``python -m nnexp NAME ARGS`` to ``nnexp.commands.NAME.main(args)``,
which returns the exit code; a :class:`~nnexp.errors.NnexpError` becomes one ``nnexp: error:``
line and exit 2. The commands read MLflow only through :mod:`nnexp.tracking.reader`.

- ``reproduce``: rebuild a run's config from its record, check the data, re-run it and compare
  every logged metric bit for bit (:mod:`.rebuild`, :mod:`.replay`).
- ``runs``: a table of an experiment's or a sweep's runs (:mod:`.table`).
- ``compare``: overlaid learning curves of several runs as a PNG (:mod:`.curves`).
"""
