"""nnexp: a research bench for neural networks written from scratch in NumPy.

Experiments are composed with Hydra (``conf/``, ``experiments/``), swept with Optuna and
recorded in MLflow. The engine (:mod:`nnexp.nn`) is pure NumPy; heavy dependencies are
imported lazily so that ``python -m nnexp --help`` answers quickly.
"""

__version__ = "0.1.0"
