"""Sparse-matrix helpers the model, the picking and the reasons share: presence, (row, col)
keys, the best few per row."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Every stored entry set to 1: whether it was bought, not how often."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.data[:] = 1.0
    return matrix


def cell(rows: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    """One int64 key per (row, col), for set operations on sparse entries."""
    return rows.astype(np.int64) * width + cols


def best_per_row(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `count` highest (row, col) entries of each row, duplicates counted once at their
    highest value; ties go to the lower column. Returned in row order, best first."""
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    _, first = np.unique(cell(rows, cols, int(cols.max(initial=0)) + 1), return_index=True)
    first.sort()
    rows, cols, values = rows[first], cols[first], values[first]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows
    rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    chosen = rank < count
    return rows[chosen], cols[chosen], values[chosen]
