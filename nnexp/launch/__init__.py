"""Starting a sweep's workers somewhere else than on this machine: a Slurm cluster.

``sweep.launcher=slurm`` (see :mod:`nnexp.launch.slurm_sweep`) submits ``sweep.workers`` jobs,
each running the plain worker command a person would type on a node
(``python -m nnexp +sweep=... sweep.storage=postgresql://... tracking.uri=http://...``), and
follows the shared study from here. Modules: ``config`` (the ``launcher`` group's schema),
``shared`` (refusing storages the nodes cannot share), ``sbatch`` (Slurm's commands),
``follow`` (watching the study and the jobs), ``slurm_sweep`` (the whole launch).
This package imports neither Optuna nor MLflow at module level.
"""
