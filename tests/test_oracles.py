"""Property tests of the oracle layer at hypothesis-generated points, pools and step sizes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from autograd import grad
import autograd.numpy as anp
from bimaml_nb.oracles import (TaskPool, squared_loss, hinge_loss, logistic_loss, squared_hinge_loss,
                               least_squares_moments, maml_quadratic, central_difference)

def _ragged_pool(loss, seed, d=3, sizes=(4, 9, 6), classify=False):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(n, d)) for n in sizes]
    y = [np.sign(rng.normal(size=n)) if classify else rng.normal(size=n) for n in sizes]
    p = rng.dirichlet(np.ones(len(sizes)))
    return TaskPool.from_data(loss, X, y, p=p), X, y, p

vec = st.lists(st.floats(-3, 3), min_size=3, max_size=3).map(np.array)
alphas = st.floats(0.0, 0.4)

@settings(max_examples=30, deadline=None)
@given(w=vec, u=vec, alpha=alphas, seed=st.integers(0, 2**16))
def test_smooth_pools_match_finite_differences(w, u, alpha, seed):
    u = u + 0.5
    for loss in (logistic_loss(0.05), squared_loss):
        pool = _ragged_pool(loss, seed, classify=loss is not squared_loss)[0]
        np.testing.assert_allclose(central_difference(pool.f, w, u), pool.grad_f(w) @ u, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(central_difference(lambda v: pool.F(v, alpha), w, u), pool.grad_F(w, alpha) @ u, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(central_difference(pool.grad_f, w, u), pool.hvp_f(w, u), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(pool.grad_F(w, alpha), grad(lambda v: pool._F_autograd(v, alpha))(w), rtol=1e-9, atol=1e-12)

@settings(max_examples=30, deadline=None)
@given(w=vec, alpha=alphas, seed=st.integers(0, 2**16))
def test_ragged_pool_equals_per_task_pools(w, alpha, seed):
    pool, X, y, p = _ragged_pool(squared_hinge_loss(0.1), seed, classify=True)
    singles = [TaskPool.from_data(squared_hinge_loss(0.1), Xi[None], yi[None]) for Xi, yi in zip(X, y)]
    np.testing.assert_allclose(pool.F(w, alpha), p @ [s.F(w, alpha) for s in singles], rtol=1e-12)
    np.testing.assert_allclose(pool.grad_F(w, alpha), p @ np.array([s.grad_F(w, alpha) for s in singles]), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(pool.task_grads(w), np.array([s.grad_f(w) for s in singles]), rtol=1e-12, atol=1e-14)

@settings(max_examples=30, deadline=None)
@given(w=vec, alpha=alphas, seed=st.integers(0, 2**16))
def test_least_squares_closed_form(w, alpha, seed):
    pool, X, y, p = _ragged_pool(squared_loss, seed, sizes=(5, 8, 13, 6))
    A, b = least_squares_moments(X, y)
    c = np.linalg.solve(A, b[..., None])[..., 0]
    I = np.eye(3)
    closed = sum(pi * (I - alpha * Ai) @ Ai @ (I - alpha * Ai) @ (w - ci) for pi, Ai, ci in zip(p, A, c))
    np.testing.assert_allclose(pool.grad_F(w, alpha), closed, rtol=1e-9, atol=1e-12)
    H, w_star = maml_quadratic(A, b, alpha, p)
    np.testing.assert_allclose(pool.hess_F(w, alpha), H, rtol=1e-9, atol=1e-12)
    assert np.linalg.norm(pool.grad_F(w_star, alpha)) < 1e-10

@settings(max_examples=20, deadline=None)
@given(w=vec, seed=st.integers(0, 2**16))
def test_first_order_exact_on_piecewise_linear_hinge(w, seed):
    pool, X, y, _ = _ragged_pool(hinge_loss(), seed, classify=True)
    margins = np.concatenate([yi * (Xi @ w) for Xi, yi in zip(X, y)])
    if np.abs(1 - margins).min() < 1e-6: return  # on a kink the Hessian is not defined
    np.testing.assert_array_equal(pool.grad_F(w, 0.3, "first"), pool.grad_F(w, 0.3))

def test_hessian_free_converges_quadratically():
    pool = _ragged_pool(logistic_loss(0.05), 1, classify=True)[0]
    w = np.array([0.5, -1.0, 2.0]); exact = pool.grad_F(w, 0.3)
    errs = [np.linalg.norm(pool.grad_F(w, 0.3, "hessian_free", delta=h) - exact) for h in (1e-1, 1e-2, 1e-3)]
    slopes = np.diff(np.log10(errs))
    assert np.all(slopes < -1.8), errs  # error ∝ δ²

def test_fig1_pair_against_hand_derivatives():
    pool = TaskPool.from_functions([lambda w: 0.505 * w[0] ** 2 - anp.sin(w[0]),
                                    lambda w: 0.505 * w[0] ** 2 - 1e-4 * anp.sin(100 * w[0])], d=1)
    x = np.linspace(-10, 10, 201)
    d1 = [1.01 * x - np.cos(x), 1.01 * x - 0.01 * np.cos(100 * x)]
    d2 = [1.01 + np.sin(x), 1.01 + np.sin(100 * x)]
    inner = [x - 0.4 * g for g in d1]
    dF = 0.5 * sum((1 - 0.4 * h) * g for h, g in zip(d2, [1.01 * inner[0] - np.cos(inner[0]), 1.01 * inner[1] - 0.01 * np.cos(100 * inner[1])]))
    got = np.array([pool.grad_F(np.array([xi]), 0.4)[0] for xi in x])
    np.testing.assert_allclose(got, dF, rtol=1e-10, atol=1e-13)

@pytest.mark.parametrize("call, message", [
    (lambda P, w: P.F(w, -1.0), "alpha must be"),
    (lambda P, w: P.grad_F(w, np.inf), "alpha must be"),
    (lambda P, w: P.grad_f(w[:2]), "w must have shape (3,)"),
    (lambda P, w: P.grad_F(np.full(3, np.nan), 0.1), "w contains NaN"),
])
def test_bad_calls(call, message):
    pool = _ragged_pool(squared_loss, 0)[0]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(pool, np.zeros(3))

@pytest.mark.parametrize("X, y, p, message", [
    (np.ones((2, 4, 3)), np.ones((2, 5)), None, "X must have shape"),
    (np.ones((2, 4, 3)), np.full((2, 4), np.nan), None, "y \\(task 0\\) contains NaN"),
    (np.ones((2, 4, 3)), np.ones((2, 4)), [0.7, 0.7], "p must be a distribution"),
    (np.ones((2, 4, 3)), np.ones((2, 4)), [-0.5, 1.5], "p must be a distribution"),
    ([], [], None, "empty"),
])
def test_bad_pools(X, y, p, message):
    with pytest.raises(ValueError, match=message):
        TaskPool.from_data(squared_loss, X, y, p=p)

def test_same_seed_same_batches():
    pool = _ragged_pool(squared_loss, 0)[0]
    a = [pool.sample(2, np.random.default_rng(5)).tasks for _ in range(2)]
    np.testing.assert_array_equal(*a)
    w = np.ones(3)
    g = [pool.sample(2, np.random.default_rng(5)).grad_F(w, 0.2) for _ in range(2)]
    np.testing.assert_array_equal(*g)

def test_from_functions_requires_d():
    "d used to default to 1 silently; a 3-dimensional task then failed far from the call."
    with pytest.raises(TypeError, match="'d'"):
        TaskPool.from_functions([lambda w: w @ w])
    assert TaskPool.from_functions([lambda w: w @ w], d=3).d == 3

@pytest.mark.parametrize("bad, exc", [(-0.1, ValueError), (np.nan, ValueError), (True, TypeError), ("0.1", TypeError),
                                      (None, TypeError), (0.1 + 0j, TypeError), (np.ones(2), TypeError)])
def test_check_alpha_rejects(bad, exc):
    from bimaml_nb.oracles import check_alpha
    with pytest.raises(exc, match="alpha must be"):
        check_alpha(bad)

def test_check_helpers():
    from bimaml_nb.oracles import check_positive, check_int, check_finite, check_p
    assert check_positive(np.float32(2), "beta", "step") == 2.0
    with pytest.raises(ValueError, match="beta must be > 0"): check_positive(0, "beta", "step")
    assert check_int(np.int32(4), "n", 1, "steps") == 4
    for bad in (2.0, True, None): 
        with pytest.raises(TypeError, match="n must be an integer"): check_int(bad, "n", 1, "steps")
    with pytest.raises(TypeError, match="complex"): check_finite(np.ones(2) * 1j, "v", "fix")
    with pytest.raises(ValueError, match="p must be a distribution"): check_p([0.2, 0.2], 2)
    pool = _ragged_pool(squared_loss, 0)[0]
    with pytest.raises(TypeError, match="w must hold real numbers"): pool.check_w(np.zeros(3) + 0j)
    with pytest.raises(ValueError, match="w0 must have shape"): pool.check_w(np.zeros(2), "w0")

def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / (np.linalg.norm(b) or 1.0)

LOSSES = {"squared": squared_loss, "squared+ridge": squared_loss.ridge(0.2), "hinge": hinge_loss(), "hinge+ridge": hinge_loss(0.05),
          "logistic": logistic_loss(), "logistic+ridge": logistic_loss(0.1), "squared_hinge+ridge": squared_hinge_loss(0.1)}

@settings(max_examples=40, deadline=None)
@given(w=vec, alpha=alphas, seed=st.integers(0, 2**16), name=st.sampled_from(sorted(LOSSES)), ragged=st.booleans(),
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_prediction_engine_equals_autograd_engine(w, alpha, seed, name, ragged, scale):
    "The closed-form (prediction) engine gives the general autograd engine's numbers, oracle by oracle."
    loss, rng = LOSSES[name], np.random.default_rng(seed)
    sizes = (4, 9, 1, 6) if ragged else (7,) * 4
    X = [scale * rng.normal(size=(n, 3)) for n in sizes]
    classify = "hinge" in name or "logistic" in name
    y = [np.sign(rng.normal(size=n)) if classify else rng.normal(size=n) for n in sizes]
    if not ragged: X, y = np.array(X), np.array(y)
    p = rng.dirichlet(np.ones(4))
    fast, ref = TaskPool.from_data(loss, X, y, p), TaskPool.from_data(loss, X, y, p, fast=False)
    assert type(fast._engine).__name__ == "_PredictionTasks" and type(ref._engine).__name__ == "_AutogradTasks"
    v, V = rng.normal(size=3), rng.normal(size=(4, 3))
    for call in (lambda P: P.f(w), lambda P: P.grad_f(w), lambda P: P.task_grads(w), lambda P: P.hvp_f(w, v),
                 lambda P: P.task_hvps(w, V), lambda P: P.task_hvps(w + V, V), lambda P: P.hess_f(w),
                 lambda P: P.F(w, alpha), lambda P: P.grad_F(w, alpha), lambda P: P.grad_F(w, alpha, "first"),
                 lambda P: np.concatenate([np.atleast_1d(a) for a in P.F_grads(w, alpha)])):
        assert _rel(call(fast), call(ref)) < 1e-12
    assert _rel(fast.grad_F(w, alpha, "hessian_free"), ref.grad_F(w, alpha, "hessian_free")) < 1e-9
    assert fast.counter.snapshot() == ref.counter.snapshot()

def test_dense_data_is_not_copied_and_batches_gather_only_their_tasks():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 5, 3)), rng.normal(size=(6, 5))
    pool = TaskPool.from_data(squared_loss, X, y)
    assert pool._engine.X is X and pool._engine.y is y
    batch = pool.sample(2, rng)
    assert batch._engine.X.shape == (2, 5, 3) and pool._engine.X is X

def test_user_prediction_loss_and_general_loss():
    from bimaml_nb.oracles import PredictionLoss, predict
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(3, 8, 2)), rng.normal(size=(3, 8))
    cauchy = PredictionLoss(lambda z, t: anp.log1p((z - t) ** 2), name="cauchy")  # ℓ′, ℓ″ by autograd
    general = lambda w, X, y: anp.log1p((predict(X, w) - y) ** 2)  # any per-sample loss: the general engine
    a, b = TaskPool.from_data(cauchy, X, y), TaskPool.from_data(general, X, y)
    w = np.array([0.3, -0.7])
    assert _rel(a.grad_F(w, 0.2), b.grad_F(w, 0.2)) < 1e-12 and _rel(a.hess_f(w), b.hess_f(w)) < 1e-12

def test_cost_constants():
    from bimaml_nb.oracles import HVP_COST, GRAD_F_COST, GRAD_F_COSTS, HVP_F_COST, GRAD_F_ORDERS
    pool = _ragged_pool(squared_loss, 0)[0]
    for order in GRAD_F_ORDERS:
        s = pool.counter.snapshot(); pool.grad_F(np.ones(3), 0.1, order)
        assert pool.counter.cost_since(s) == GRAD_F_COSTS[order]
    assert GRAD_F_COSTS["exact"] == GRAD_F_COST == 2 + HVP_COST and HVP_F_COST == 2 * GRAD_F_COST

def test_non_contiguous_data_view():
    "A strided view of the data is used as given too (one block, no reshape of the data)."
    rng = np.random.default_rng(3)
    base = rng.normal(size=(4, 6, 6)); X = base[:, :, ::2]; y = np.sign(rng.normal(size=(4, 6)))
    assert not X.flags.c_contiguous
    fast, ref = TaskPool.from_data(logistic_loss(0.1), X, y), TaskPool.from_data(logistic_loss(0.1), X, y, fast=False)
    assert fast._engine.X is X
    w, v = rng.normal(size=3), rng.normal(size=3)
    for call in (lambda P: P.grad_f(w), lambda P: P.hvp_f(w, v), lambda P: P.hess_f(w), lambda P: P.grad_F(w, 0.3),
                 lambda P: P.hvp_F(w, v, 0.3), lambda P: P.task_hvps(w, np.ones((4, 3)))):
        assert _rel(call(fast), call(ref)) < 1e-12

def test_help_lists_parameters():
    "help() on the installed package shows each parameter's comment."
    assert "  alpha: inner MAML step size" in TaskPool.grad_F.__doc__ and "  order:" in TaskPool.grad_F.__doc__
    assert "  d: dimension of w" in TaskPool.from_functions.__doc__
    from bimaml_nb.oracles import check_int
    assert "  lo: the smallest allowed value" in check_int.__doc__

def test_from_functions_pools_keep_the_general_engine():
    pool = TaskPool.from_functions([lambda w: anp.sum(anp.sin(w) ** 2), lambda w: anp.sum(w ** 4)], d=2)
    assert type(pool._engine).__name__ == "_AutogradTasks"
    w, u = np.array([0.3, -1.2]), np.array([1.0, 0.5])
    np.testing.assert_allclose(central_difference(lambda v: pool.grad_F(v, 0.1), w, u), pool.hvp_F(w, u, 0.1), rtol=1e-6)

@pytest.mark.parametrize("make", ["hinge_loss", "logistic_loss", "squared_hinge_loss"])
def test_pm1_losses_refuse_01_labels_and_name_the_fix(make):
    from bimaml_nb import oracles
    loss = getattr(oracles, make)(0.01)
    X, y01 = np.ones((2, 4, 3)), np.array([[0., 1., 1., 0.], [1., 0., 0., 1.]])
    with pytest.raises(ValueError, match=r"pass y = 2 \* y - 1"): oracles.TaskPool.from_data(loss, X, y01)
    with pytest.raises(ValueError, match="y must hold labels -1 and \\+1"): oracles.TaskPool.from_data(loss.ridge(0.0), X, 0.5 * y01)
    assert oracles.TaskPool.from_data(loss, X, 2 * y01 - 1).M == 2

def test_check_rng_takes_seeds_and_generators():
    from bimaml_nb.oracles import check_rng
    g = np.random.default_rng(1)
    assert check_rng(g) is g and np.array_equal(check_rng(5).normal(size=4), np.random.default_rng(5).normal(size=4))
    for bad in (-1, 2.0, None, True, np.random.RandomState(0)):
        with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or an integer seed"): check_rng(bad)

def test_sample_refuses_a_legacy_random_state():
    P = TaskPool.from_data(squared_loss, np.ones((3, 4, 2)), np.ones((3, 4)))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or an integer seed"): P.sample(2, np.random.RandomState(0))
    assert np.array_equal(P.sample(2, 3).tasks, P.sample(2, np.random.default_rng(3)).tasks)

def test_every_shipped_loss_is_one_kind_of_object_called_for_its_ridge_variant():
    from bimaml_nb import oracles
    rng = np.random.default_rng(0); X, y = rng.normal(size=(2, 5, 3)), np.sign(rng.normal(size=(2, 5))); w = rng.normal(size=3)
    for loss in (oracles.squared_loss, oracles.hinge_loss, oracles.logistic_loss, oracles.squared_hinge_loss):
        assert isinstance(loss, oracles.PredictionLoss) and loss.l2 == 0.0
        a = oracles.TaskPool.from_data(loss, X, y); b = oracles.TaskPool.from_data(loss(), X, y); c = oracles.TaskPool.from_data(loss(0.3), X, y)
        assert a.f(w) == b.f(w) and np.isclose(c.f(w) - a.f(w), 0.15 * w @ w)  # λ/2‖w‖² once per task mean
        np.testing.assert_allclose(c.grad_f(w) - a.grad_f(w), 0.3 * w, rtol=1e-12)
    with pytest.raises(TypeError, match="takes \\(w, X, y\\)"): oracles.hinge_loss(1, 2)
    with pytest.raises(ValueError, match="l2 must be"): oracles.logistic_loss(-1.0)
