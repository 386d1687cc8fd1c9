"""Theory helpers against hand-computable cases."""
import numpy as np
import pytest
from bimaml_nb.oracles import TaskPool, squared_loss
from bimaml_nb.theory import constants, conditions, zeta, alpha_zeta_zero, theory_report, landscape_1d, fig1_tasks, Constants, ball

def test_constants_of_quadratic_tasks_are_exact():
    A = np.array([np.diag([1.0, 3.0]), np.diag([2.0, 0.5])])
    fs = [lambda w, A=Ai: 0.5 * w @ A @ w for Ai in A]
    pool = TaskPool.from_functions(fs, d=2)
    pts = ball(np.zeros(2), 1.0, 10, np.random.default_rng(0))
    c = constants(pool, pts)
    assert c.L == pytest.approx(3.0) and c.mu == pytest.approx(0.5) and c.kappa < 1e-10
    # σ at w is ½‖(A_1 − A_2) w‖: the constant is its largest value over the region's points
    assert c.sigma == pytest.approx(max(0.5 * np.linalg.norm((A[0] - A[1]) @ w) for w in pts), rel=1e-12)

def test_conditions_and_zeta():
    c = Constants(L=2.0, mu=0.5, sigma=1.0, kappa=0.0, n_points=1, n_pairs=0)
    conds = {k.theorem: k for k in conditions(c, 0.2)}
    assert conds["Theorem 3.8"].bound == pytest.approx(0.25) and conds["Theorem 3.8"].holds
    assert conds["Theorem 3.9"].bound == pytest.approx(0.125) and not conds["Theorem 3.9"].holds
    a0 = alpha_zeta_zero(c)
    assert zeta(c, a0) == pytest.approx(0.0, abs=1e-12) and zeta(c, 0.5 * a0) > 0 > zeta(c, 2 * a0)

def test_fig1_has_several_critical_points_at_04_and_one_at_small_alpha():
    assert len(landscape_1d(fig1_tasks, 0.4, n=200_001).critical) > 1
    assert len(landscape_1d(fig1_tasks, 0.05, n=200_001).critical) == 1

def test_report_rejects_bad_input():
    pool = TaskPool.from_data(squared_loss, np.ones((2, 3, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="alpha must be"): theory_report(pool, -1.0, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="region is empty"): theory_report(pool, 0.1, np.zeros((0, 2)))
