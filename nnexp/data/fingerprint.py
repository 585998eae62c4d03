"""Content hashes that let a run prove which data it saw.

A fingerprint is the first 16 hex characters of a SHA-256 over, for each array in order,
its dtype (little-endian spelling), its shape and its raw C-order bytes. Two arrays with
the same values but a different dtype or shape therefore hash differently, and changing a
single value changes the hash.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["FINGERPRINT_LENGTH", "array_fingerprint", "combine_fingerprints"]

FINGERPRINT_LENGTH = 16


def array_fingerprint(*arrays: np.ndarray) -> str:
    """Hash the dtype, shape and bytes of ``arrays`` (in order) to 16 hex characters."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise ValueError("cannot fingerprint an object array")
        # One canonical byte order so the hash does not depend on the machine.
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
        h.update(b"#")
    return h.hexdigest()[:FINGERPRINT_LENGTH]


def combine_fingerprints(**parts: str | None) -> str:
    """Hash named fingerprints (``None`` for an absent part) into one, order-sensitively."""
    text = ";".join(f"{key}={'-' if value is None else value}" for key, value in parts.items())
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_LENGTH]
