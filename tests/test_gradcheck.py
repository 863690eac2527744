"""rel_error and numeric_gradient: every gradient check in the suite depends on these two."""
import numpy as np
import pytest

from common.core.gradcheck import numeric_gradient, rel_error


def test_rel_error_exact_small_cases():
    # max|x - y| / max(|x| + |y|), worked by hand.
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == pytest.approx(0.5 / 4.5, rel=1e-15)
    assert rel_error(np.array([3.0]), np.array([-1.0])) == pytest.approx(4.0 / 4.0, rel=1e-15)
    # The scale is the whole array's: a tiny entry's error counts against the largest entry.
    assert rel_error(np.array([100.0, 1e-9]), np.array([100.0, 2e-9])) == pytest.approx(1e-9 / 200.0)


def test_rel_error_is_symmetric_and_takes_scalars_and_lists():
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.31, -0.69, 1.0])
    assert rel_error(x, y) == rel_error(y, x)
    assert rel_error(2.0, 2.0) == 0.0
    assert rel_error([1.0, 1.0], [1.0, 3.0]) == pytest.approx(2.0 / 4.0)


def test_rel_error_floor_keeps_all_zero_pairs_finite():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    # Below the floor the denominator is the floor: 1e-12 / 1e-8.
    assert rel_error(np.array([0.0]), np.array([1e-12])) == pytest.approx(1e-12 / 1e-8)
    assert rel_error(np.array([0.0]), np.array([1e-12]), floor=1e-12) == pytest.approx(1.0)
    assert rel_error(np.array([]), np.array([])) == 0.0


def test_rel_error_rejects_a_shape_mismatch():
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros((2, 2)), np.zeros(4))


def test_numeric_gradient_of_a_quadratic_and_restores_the_input():
    a = np.array([[2.0, -1.0], [0.5, 3.0]])
    x = np.array([0.7, -1.3])
    before = x.copy()
    grad = numeric_gradient(lambda v: float(v @ a @ v), x, eps=1e-5)
    # d/dx xᵀAx = (A + Aᵀ) x, by hand; a quadratic has no O(ε²) truncation error.
    np.testing.assert_allclose(grad, (a + a.T) @ before, rtol=1e-9)
    np.testing.assert_array_equal(x, before)


def test_numeric_gradient_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        numeric_gradient(lambda v: float(v.sum()), np.zeros(2, dtype=np.float32))
