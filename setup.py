"""Packaging that pyproject.toml cannot express: the repository keeps ``conf/`` and
``experiments/`` at its top level (where a researcher edits them), and a wheel installs them
inside the package, as ``nnexp/_conf`` and ``nnexp/_experiments``, so an installed nnexp finds
its configs wherever it runs (see ``nnexp/config/store.py``). Everything else is in
pyproject.toml.
"""

from setuptools import find_packages, setup

CONFIG_PACKAGES = {"nnexp._conf": "conf", "nnexp._experiments": "experiments"}

setup(
    packages=[*find_packages(include=["nnexp", "nnexp.*"]), *CONFIG_PACKAGES],
    package_dir=CONFIG_PACKAGES,
    package_data={
        "nnexp": ["py.typed"],
        "nnexp._conf": ["*.yaml", "*/*.yaml"],
        "nnexp._experiments": ["*.yaml"],
    },
)
