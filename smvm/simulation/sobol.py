"""Scrambled Sobol points in pure numpy (Joe-Kuo directions, linear matrix scramble plus digital shift)."""

from __future__ import annotations

import functools

import numpy as np

from smvm.simulation._sobol_directions import POLY, VINIT
from smvm.simulation.engine import thread_scratch

BITS = 30


@functools.cache
def _directions(dim: int) -> np.ndarray:
    """Direction numbers, shape (dim, BITS), as integers scaled to BITS bits.

    Reimplemented here rather than taken from ``scipy.stats.qmc`` because importing ``scipy.stats`` costs ~0.9 s,
    more than a whole default simulation run.
    """
    if dim > len(POLY):
        raise ValueError(f"at most {len(POLY)} Sobol dimensions are shipped")
    v = np.zeros((dim, BITS), dtype=np.int64)
    v[0, :] = 1
    for d in range(1, dim):
        poly = POLY[d]
        degree = poly.bit_length() - 1
        v[d, :degree] = VINIT[d][:degree]
        for j in range(degree, BITS):
            newv = int(v[d, j - degree])
            pow2 = 1
            for k in range(degree):
                pow2 <<= 1
                if (poly >> (degree - 1 - k)) & 1:
                    newv ^= pow2 * int(v[d, j - k - 1])
            v[d, j] = newv
    shifts = np.arange(BITS - 1, -1, -1, dtype=np.int64)
    return (v << shifts[None, :]).astype(np.uint64)


def _scrambled_directions(dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    v = _directions(dim)
    # Linear matrix scramble: output digit k (MSB first) is the parity of the input digits j <= k selected by a
    # random lower-triangular matrix with a unit diagonal; this keeps the (t, m, s)-net property.
    lower = np.tril(rng.integers(0, 2, size=(dim, BITS, BITS), dtype=np.uint64), k=-1)
    lower[:, np.arange(BITS), np.arange(BITS)] = 1
    weights = (np.uint64(1) << np.arange(BITS - 1, -1, -1, dtype=np.uint64))
    masks = (lower * weights[None, None, :]).sum(axis=2, dtype=np.uint64)  # (dim, out digit) row masks
    bits_out = np.bitwise_count(v[:, :, None] & masks[:, None, :]) & np.uint8(1)  # (dim, direction, out digit)
    scrambled = (bits_out.astype(np.uint64) * weights[None, None, :]).sum(axis=2, dtype=np.uint64)
    shift = rng.integers(0, 1 << BITS, size=dim, dtype=np.uint64)
    return scrambled, shift


@functools.lru_cache(maxsize=8)
def _gray_steps(n: int) -> np.ndarray:
    """Index of the lowest set bit of 1..n-1 (the direction that Gray-code point i flips)."""
    i = np.arange(1, n, dtype=np.int64)
    return np.log2(i & -i).astype(np.int64)


def sobol_points(n: int, dim: int, rng: np.random.Generator | None, *, out: np.ndarray | None = None) -> np.ndarray:
    """The first ``n`` points of a ``dim``-dimensional Sobol sequence in (0, 1), shape (n, dim).

    With ``rng`` the sequence is scrambled (LMS + digital shift) and each point is centred in its
    2**-30 cell, so no coordinate is exactly 0 or 1; without it the raw sequence is returned (first point 0).
    Balance properties hold when ``n`` is a power of two. The result is the transpose of a C-ordered
    (dim, n) array, so each column is contiguous; ``out`` may be such a (dim, n) array to fill (a reused
    buffer saves the page faults of a fresh allocation).
    """
    if n <= 0:
        return np.zeros((0, dim))
    if n > 1 << BITS:
        raise ValueError("too many Sobol points")
    if rng is None:
        v, shift = _directions(dim), np.zeros(dim, dtype=np.uint64)
    else:
        v, shift = _scrambled_directions(dim, rng)
    # Gray-code order: point i differs from point i-1 by the direction of i's lowest set bit, so one
    # cumulative XOR builds the whole block. Built dimension-major, (dim, n), so the XOR runs along contiguous
    # memory (an accumulate down the rows of an (n, dim) array is several times slower).
    steps = thread_scratch("sobol_steps", (dim, n), np.uint64)
    steps[:, 0] = shift
    np.take(v, _gray_steps(n), axis=1, out=steps[:, 1:])
    np.bitwise_xor.accumulate(steps, axis=1, out=steps)
    res = np.empty((dim, n)) if out is None else out
    np.copyto(res, steps, casting="unsafe")
    if rng is not None:
        res += 0.5
    res *= 1.0 / float(1 << BITS)
    return res.T
