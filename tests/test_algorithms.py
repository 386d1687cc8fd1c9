"""Algorithms on random least-squares pools, where F's minimiser is known in closed form."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from bimaml_nb.oracles import TaskPool, squared_loss, logistic_loss, least_squares_moments, maml_quadratic, GRAD_F_COST
from bimaml_nb.algorithms import maml, bimaml, fo_maml, hf_maml, descend

def _pool(seed, M=4, n=30, d=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, n, d)); y = (X @ rng.normal(size=(M, d, 1)))[..., 0] + rng.normal(size=(M, n))
    return TaskPool.from_data(squared_loss, X, y), X, y

@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), alpha=st.floats(0.0, 0.3))
def test_maml_and_bimaml_reach_the_closed_form_minimiser(seed, alpha):
    pool, X, y = _pool(seed)
    H, w_star = maml_quadratic(*least_squares_moments(X, y), alpha)
    ev = np.linalg.eigvalsh(H)
    L_f = np.linalg.eigvalsh(least_squares_moments(X, y)[0].mean(0))[-1]
    beta = 1 / max(ev[-1], L_f)  # phase 1 of BI-MAML descends f: β must suit both Hessians
    for run in (maml, bimaml):
        r = run(pool, np.zeros(5), alpha, beta, eps=1e-11, max_iter=int(30 / (beta * ev[0])) + 100)
        assert r.status == "converged", r
        np.testing.assert_allclose(r.w, w_star, rtol=0, atol=1e-8 * max(1, np.linalg.norm(w_star)))
        assert np.all(np.diff(r.cost) > 0) and np.all(np.diff(r.wall) >= 0)
        assert len(r.t) == len(r.F) == len(r.grad_F_norm) == len(r.phase) == len(r.cost)

def test_bimaml_phases_are_ordered_and_switch_is_recorded():
    pool = _pool(3)[0]
    r = bimaml(pool, 10 * np.ones(5), 0.2, 0.2, max_iter=200, record_every=1)
    assert r.switch is not None and r.switch > 0 and r.t[r.switch] == r.switch
    # a row's phase is that of the step taken from its iterate: phase 2 starts at the switch row
    assert np.all(r.phase[:r.switch] == 1) and np.all(r.phase[r.switch:] == 2)
    # every phase-2 iterate costs one exact meta-gradient
    np.testing.assert_allclose(np.diff(r.cost)[r.switch:], GRAD_F_COST)

def test_stochastic_runs_repeat_bit_for_bit():
    pool = TaskPool.from_data(logistic_loss(0.1), np.random.default_rng(0).normal(size=(6, 20, 3)),
                              np.sign(np.random.default_rng(1).normal(size=(6, 20))))
    runs = [descend(pool, np.ones(3), 0.2, 0.5, order=o, eps0=e, max_iter=30, batch_size=2, rng=np.random.default_rng(4))
            for o, e in [("exact", "auto"), ("exact", "auto"), ("hessian_free", None), ("hessian_free", None)]]
    for a, b in (runs[:2], runs[2:]):
        np.testing.assert_array_equal(a.iterates, b.iterates); np.testing.assert_array_equal(a.grad_F_norm, b.grad_F_norm)

def test_divergence_is_reported_not_returned_as_nan():
    pool = _pool(1)[0]
    for run in (maml, fo_maml, hf_maml, bimaml):
        r = run(pool, np.zeros(5), 0.1, 100.0, max_iter=200)
        assert r.status == "diverged" and "beta=100" in r.message and "use beta <=" in r.message
        assert np.all(np.isfinite(r.w)) and np.all(np.isfinite(r.F)) and np.all(np.isfinite(r.iterates))

@pytest.mark.parametrize("kw, message", [
    (dict(beta=-1.0), "beta must be"), (dict(beta=np.nan), "beta must be"), (dict(alpha=-0.1), "alpha must be"),
    (dict(eps=-1.0), "eps must be"), (dict(w0=np.zeros(4)), "w0 must have shape"), (dict(max_iter=-1), "max_iter must be"),
])
def test_bad_input(kw, message):
    args = dict(pool=_pool(0)[0], w0=np.zeros(5), alpha=0.1, beta=0.1) | kw
    with pytest.raises(ValueError, match=message):
        maml(**args)

def test_batch_runs_record_only_first_switch_and_last_rows_by_default():
    "A row is a full-pool pass: a stochastic run records few rows unless asked, so its time follows the batch."
    pool = _pool(5)[0]
    r = bimaml(pool, 5 * np.ones(5), 0.2, 0.05, max_iter=300, batch_size=2, rng=np.random.default_rng(0))
    assert len(r.t) <= 3 and r.t[0] == 0 and r.t[-1] == r.steps
    full = bimaml(pool, 5 * np.ones(5), 0.2, 0.05, max_iter=300, batch_size=2, rng=np.random.default_rng(0), record_every=1)
    assert len(full.t) == full.steps + 1 and np.array_equal(full.w, r.w)

def test_converged_means_the_exact_full_pool_gradient_meets_eps():
    "FO-MAML and batch runs stop on their own gradient; 'converged' only when the exact full-pool ‖∇F‖ meets eps."
    from bimaml_nb.algorithms import descend
    from bimaml_nb.oracles import TaskPool, squared_loss
    from bimaml_nb.runs import Stepper, drive
    rng = np.random.default_rng(2)
    pool = TaskPool.from_data(squared_loss, rng.normal(size=(6, 30, 4)), rng.normal(size=(6, 30)))
    fo = descend(pool, np.zeros(4), 0.3, 0.2, eps=1e-6, max_iter=5000, order="first")
    exact = np.linalg.norm(pool.grad_F(fo.w, 0.3))
    assert fo.status == "approximate" and exact > 1e-6 and np.isclose(fo.grad_F_norm[-1], exact) and not fo.success
    for r in (descend(pool, np.zeros(4), 0.3, 0.2, eps=e, max_iter=3000, order=o, batch_size=b, rng=np.random.default_rng(0) if b else None)
              for e in (1e-2, 1e-3) for o in ("first", "hessian_free", "exact") for b in (None, 3)):
        if r.status == "converged": assert r.grad_F_norm[-1] <= r.params["eps"], r
    class NaNDone(Stepper):
        def __init__(self): self.w = np.zeros(4)
        def evaluate(self, record): return np.nan, {}
        def advance(self): self.t += 1
    with pytest.raises(TypeError, match="NaNDone.evaluate must return done"): drive(NaNDone(), pool, 0.3, "nan", 3)

def test_nesterov_schedule_is_su_boyd_candes_k_over_k_plus_3():
    "x_{k+1} = y_k − β∇F(y_k), y_{k+1} = x_{k+1} + k/(k+3)(x_{k+1} − x_k), on the closed-form quadratic F of least squares."
    from bimaml_nb.algorithms import nesterov_maml
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(3, 20, 3)), rng.normal(size=(3, 20))
    pool, alpha, beta = TaskPool.from_data(squared_loss, X, y), 0.2, 0.3
    H, w_star = maml_quadratic(*least_squares_moments(X, y), alpha)
    r = nesterov_maml(pool, np.ones(3), alpha, beta, eps=1e-300, max_iter=6, record_every=1)
    ys, x_prev, yk = [np.ones(3)], np.ones(3), np.ones(3)
    for k in range(6):
        x = yk - beta * H @ (yk - w_star)
        yk, x_prev = x + k / (k + 3) * (x - x_prev), x
        ys.append(yk)
    np.testing.assert_allclose(r.iterates, np.array(ys), rtol=1e-10, atol=1e-12)

def test_result_files_are_validated_and_saved_atomically(tmp_path):
    import json
    from bimaml_nb.runs import Result
    pool = TaskPool.from_data(squared_loss, np.ones((2, 3, 2)), np.arange(6.).reshape(2, 3))
    r = maml(pool, np.zeros(2), 0.1, 0.5, max_iter=3)
    p = r.save(tmp_path / "r.json"); good = p.read_text()
    assert Result.load(p).to_dict() == r.to_dict()
    for field, bad in [("status", "converged"), ("F", ["nan"] * len(r.F)), ("grad_F_norm", ["inf"] * len(r.F)), ("message", 3), ("switch", "x"), ("steps", -1)]:
        p.write_text(json.dumps(json.loads(good) | {field: bad}))
        with pytest.raises(ValueError, match=field): Result.load(p)
    p.write_text(good.replace(f'"total_cost": {r.total_cost}', '"total_cost": Infinity'))
    with pytest.raises(ValueError, match="non-strict JSON"): Result.load(p)

def test_callback_sees_recorded_rows_and_can_stop_any_run(capsys):
    from bimaml_nb.ode import solve
    rng = np.random.default_rng(1)
    pool = TaskPool.from_data(squared_loss, rng.normal(size=(3, 10, 2)), rng.normal(size=(3, 10)))
    rows = []
    r = maml(pool, np.ones(2), 0.1, 0.1, max_iter=500, record_every=1, callback=lambda row: rows.append(row) or row["t"] >= 7)
    assert (r.status, r.steps, [x["t"] for x in rows]) == ("stopped", 7, list(range(8))) and not r.success
    np.testing.assert_allclose([x["F"] for x in rows], r.F, rtol=0, atol=0)
    assert solve(pool, np.ones(2), 0.1, "RK45", callback=lambda row: True).status == "stopped"
    assert maml(pool, np.ones(2), 0.1, 0.1, max_iter=500, callback=lambda row: None).status == "converged"
    full = maml(pool, np.ones(2), 0.1, 0.1, max_iter=5000, progress=True)
    err = capsys.readouterr().err
    assert full.status == "converged" and f"{full.steps}/{full.steps}" in err  # the bar closes full at the steps taken

import re
import bimaml_nb.algorithms as A

@pytest.mark.parametrize("call, error, says", [
    (lambda P: A.minimiser_f(P, np.ones(3), rtol=0.0), ValueError, "rtol must be > 0"),
    (lambda P: A.minimiser_f(P, np.ones(2)), ValueError, "w0 must have shape (3,)"),
    (lambda P: A.minimiser_f(P, np.ones(3), maxiter=0), ValueError, "maxiter must be an integer >= 1"),
    (lambda P: A.fixed_point_eps0(P, np.full(3, np.nan), 0.1), ValueError, "w0 contains NaN"),
    (lambda P: A.fixed_point_eps0(P, np.ones(3), -1.0), ValueError, "alpha must be"),
    (lambda P: A.fraction_eps0(P, np.ones(3), c=-0.1), ValueError, "c must be > 0"),
    (lambda P: A.fraction_eps0("pool", np.ones(3)), TypeError, "pool must be a task pool"),
    (lambda P: A.eps0_premise(P, np.ones(3), 0.1, limit=np.inf), ValueError, "limit must be > 0 and finite"),
    (lambda P: bimaml(P, np.ones(3), 0.1, 0.1, eps0="Fixed_Point"), ValueError, "eps0 must be a number >= 0"),
])
def test_new_eps0_functions_refuse_bad_input_naming_it(call, error, says):
    rng = np.random.default_rng(0)
    P = TaskPool.from_data(squared_loss, rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5)))
    with pytest.raises(error, match=re.escape(says)): call(P)

# --- outer update rules -------------------------------------------------------------------------------------------

from bimaml_nb.algorithms import SGD, Momentum, Adam, UpdateRule, update_rule, RULES

def _adam_by_hand(grad, w, beta, steps, b1=0.9, b2=0.999, eps=1e-8):
    "Kingma & Ba's Algorithm 1, written out independently."
    m = v = np.zeros_like(w)
    for t in range(1, steps + 1):
        g = grad(w); m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g
        w = w - beta * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w

@pytest.mark.parametrize("order", ["exact", "first", "hessian_free"])
def test_adam_on_every_meta_gradient_order_is_kingma_and_ba(order):
    pool = _pool(7)[0]
    r = descend(pool, np.ones(5), 0.1, 0.05, max_iter=25, order=order, rule="adam", eps=1e-12)
    want = _adam_by_hand(lambda w: pool.grad_F(w, 0.1, order), np.ones(5), 0.05, 25)
    np.testing.assert_allclose(r.w, want, rtol=1e-10, atol=1e-13)
    assert r.params["rule"] == "Adam(b1=0.9, b2=0.999, eps=1e-08)"

def test_momentum_and_nesterov_rules_against_hand_loops():
    pool = _pool(8)[0]
    for nesterov in (False, True):
        r = maml(pool, np.ones(5), 0.1, 0.02, max_iter=20, eps=1e-12, rule=Momentum(0.7, nesterov))
        w, v = np.ones(5), np.zeros(5)
        for _ in range(20):
            g = pool.grad_F(w, 0.1); v = 0.7 * v + g; w = w - 0.02 * (g + 0.7 * v if nesterov else v)
        np.testing.assert_allclose(r.w, w, rtol=1e-11)
    assert update_rule("Nesterov").nesterov and not update_rule("momentum").nesterov

def test_bimaml_restarts_the_rule_at_its_switch():
    pool = _pool(3)[0]
    r = bimaml(pool, 10 * np.ones(5), 0.2, 0.3, eps0=5.0, max_iter=60, record_every=1, rule="adam", eps=1e-12)
    k = r.switch; assert k is not None and 0 < k < 50
    np.testing.assert_allclose(r.iterates[k], _adam_by_hand(pool.grad_f, 10 * np.ones(5), 0.3, k), rtol=1e-11)
    np.testing.assert_allclose(r.w, _adam_by_hand(lambda w: pool.grad_F(w, 0.2), r.iterates[k], 0.3, 60 - k), rtol=1e-10)

def test_a_user_rule_is_one_class_and_bad_rules_are_refused():
    class Halving(UpdateRule):
        def update(self, g, state, beta): return -0.5 * beta * g, state
    pool = _pool(2)[0]
    a = maml(pool, np.ones(5), 0.1, 0.02, max_iter=15, rule=Halving())
    b = maml(pool, np.ones(5), 0.1, 0.01, max_iter=15)
    np.testing.assert_allclose(a.iterates, b.iterates, rtol=1e-13)
    with pytest.raises(ValueError, match="rule must be one of"): maml(pool, np.ones(5), 0.1, 0.1, rule="rmsprop")
    with pytest.raises(TypeError, match="call it"): maml(pool, np.ones(5), 0.1, 0.1, rule=Adam)
    with pytest.raises(ValueError, match="b1 must be"): Adam(b1=1.0)
    assert set(RULES) == {"sgd", "momentum", "nesterov", "adam"} and isinstance(update_rule("SGD"), SGD)

def test_help_lists_constructor_parameters_dataclass_fields_and_options():
    from bimaml_nb.oracles import TaskPool
    from bimaml_nb.runs import Result
    from bimaml_nb import ode
    assert "\n  counter: " in TaskPool.__doc__ and "\nFields\n  method: name of the algorithm" in Result.__doc__
    assert "\n  mu: momentum coefficient" in Momentum.__doc__
    assert "\n  options: the solver's own options" in ode.solve.__doc__ and "Returns: the solver's own" not in ode.solve.__doc__
