"""The MAML ODE: Prop. 3.1's field, Euler = MAML, solvers reach known minimisers."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from bimaml_nb.oracles import TaskPool, squared_loss, logistic_loss, least_squares_moments, maml_quadratic
from bimaml_nb.algorithms import maml
from bimaml_nb.ode import solve, maml_field_prop31, SOLVERS

def _lsq(seed, M=3, n=15, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, n, d)); y = rng.normal(size=(M, n))
    return TaskPool.from_data(squared_loss, X, y), X, y

@settings(max_examples=15)
@given(seed=st.integers(0, 2**16), alpha=st.floats(0.0, 0.5))
def test_prop31_field_is_minus_grad_F(seed, alpha):
    rng = np.random.default_rng(seed)
    pool = TaskPool.from_data(logistic_loss(0.1), rng.normal(size=(3, 10, 3)), np.sign(rng.normal(size=(3, 10))))
    w = rng.normal(size=3)
    np.testing.assert_allclose(maml_field_prop31(pool, w, alpha, nodes=24), -pool.grad_F(w, alpha), rtol=1e-10, atol=1e-13)

@pytest.mark.parametrize("method", [m for m in SOLVERS if m != "Euler"])
def test_every_solver_reaches_the_closed_form_minimiser(method):
    pool, X, y = _lsq(0)
    w_star = maml_quadratic(*least_squares_moments(X, y), 0.2)[1]
    r = solve(pool, np.zeros(4), 0.2, method, eps=1e-9)
    assert r.status == "converged", r.message
    np.testing.assert_allclose(r.w, w_star, atol=1e-7)

def test_euler_is_maml_bit_for_bit():
    pool = _lsq(1)[0]
    a = solve(pool, np.ones(4), 0.3, "Euler", h=0.1, max_steps=25)
    b = maml(pool, np.ones(4), 0.3, 0.1, max_iter=25)
    np.testing.assert_array_equal(a.iterates, b.iterates)

def test_bimaml_ode_switches_at_the_event():
    pool = _lsq(2)[0]
    r = solve(pool, 5 * np.ones(4), 0.2, "RK45", eps0=0.5)
    i = int(np.argmax(r.phase == 2))
    np.testing.assert_allclose(np.linalg.norm(pool.grad_f(r.iterates[i])), 0.5, rtol=1e-6)
    assert r.switch == r.t[i] and r.status == "converged"

def test_divergence_is_reported():
    r = solve(_lsq(3)[0], np.ones(4), 0.2, "Euler", h=50.0, max_steps=500)
    assert r.status == "diverged" and np.all(np.isfinite(r.w)) and np.all(np.isfinite(r.F))

def test_solver_names_in_any_case():
    import numpy as np
    from bimaml_nb.oracles import TaskPool, squared_loss
    from bimaml_nb.ode import solve
    pool = TaskPool.from_data(squared_loss, np.eye(2)[None].repeat(2, 0), np.ones((2, 2)))
    a, b = solve(pool, np.zeros(2), 0.1, "rk45", eps=1e-6), solve(pool, np.zeros(2), 0.1, "RK45", eps=1e-6)
    assert a.status == b.status == "converged" and np.array_equal(a.w, b.w)
