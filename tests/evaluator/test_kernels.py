"""Tardiness kernels against the plain-Python reference, on random instances with ties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator import kernels
from evaluator.instances import from_arrays
from evaluator.reference import total_tardiness_py


@st.composite
def instance_and_order(draw, max_n=30):
    n = draw(st.integers(1, max_n))
    p = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
    d = draw(st.lists(st.integers(-50, 3000), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    return np.array(p, np.int64), np.array(d, np.int64), np.array(order, np.int64)


@settings(max_examples=300, deadline=None)
@given(instance_and_order())
def test_kernel_equals_reference(case):
    p, d, order = case
    assert kernels.total_tardiness(p, d, order) == total_tardiness_py(p, d, order)


@settings(max_examples=100, deadline=None)
@given(instance_and_order(), st.integers(0, 3))
def test_non_permutations_are_refused(case, kind):
    p, d, order = case
    n = len(p)
    bad = {
        0: np.append(order, 0),                    # too long
        1: order[:-1],                             # too short
        2: np.where(order == order[0], n, order),  # out of range
        3: np.concatenate([order[:1], order[:1], order[2:]]) if n > 1 else np.array([-1]),  # duplicate
    }[kind]
    assert kernels.tardiness_kernel(p, d, bad) == kernels.INVALID
    with pytest.raises(ValueError, match="not a permutation"):
        kernels.total_tardiness(p, d, bad)


@settings(max_examples=50, deadline=None)
@given(st.lists(instance_and_order(max_n=12), min_size=1, max_size=8))
def test_set_and_batch_kernels_agree_with_single(cases):
    iset = from_arrays([(p, d) for p, d, _ in cases])
    orders = np.concatenate([o for _, _, o in cases])
    got = kernels.tardiness_of_set(iset, orders)
    assert got.tolist() == [total_tardiness_py(p, d, o) for p, d, o in cases]
    p, d, o = cases[0]
    rows = np.stack([o, o[::-1]])
    assert kernels.tardiness_of_orders(p, d, rows).tolist() == [
        total_tardiness_py(p, d, o), total_tardiness_py(p, d, o[::-1])]


def test_set_kernel_marks_invalid_rows_only():
    iset = from_arrays([([1, 2], [0, 0]), ([3, 4], [0, 0])])
    got = kernels.tardiness_of_set(iset, np.array([1, 0, 1, 1]))
    assert got.tolist() == [2 + 3, kernels.INVALID]


def test_wrapper_refuses_float_orders():
    with pytest.raises(TypeError, match="must hold integers"):
        kernels.total_tardiness([1, 2], [0, 0], [0.0, 1.0])
