"""Learned flow time for every algorithm and solver (LearnedTPool, LearnedT, learn_T): gradients against differences, MAML against a
hand loop, the ODE's T against a closed-form scalar minimisation, BI-MAML's phases; bad input and a hypothesis property."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from scipy.linalg import expm
from scipy.optimize import minimize_scalar
from bimaml_nb.oracles import squared_loss, NonFinite
from bimaml_nb.kstep import KStepPool
from bimaml_nb.flow import FlowPool, LearnedTPool, LearnedT, learn_T
from bimaml_nb.algorithms import maml, bimaml, fo_maml, nesterov_maml
from bimaml_nb.ode import solve

def _lsq(seed, M=3, n=9, d=3):
    r = np.random.default_rng(seed)
    X, Xq, y, yq = r.normal(size=(M, n, d)), r.normal(size=(M, n, d)), r.normal(size=(M, n)), r.normal(size=(M, n))
    return KStepPool(squared_loss, X, y, Xq, yq), r.normal(size=d)

def _interior(M=5, ns=6, nq=30, d=3):
    "Few noisy support samples, many query samples of the same tasks: min_w F_T(w) has an interior minimiser in T."
    r = np.random.default_rng(0)
    th = r.normal(size=d) + r.normal(size=(M, d))
    X, Xq = r.normal(size=(M, ns, d)), r.normal(size=(M, nq, d))
    y = np.einsum("mnd,md->mn", X, th) + r.normal(size=(M, ns)); yq = np.einsum("mnd,md->mn", Xq, th) + r.normal(size=(M, nq))
    A = np.einsum("mni,mnj->mij", X, X) / ns; c = np.linalg.solve(A, np.einsum("mni,mn->mi", X, y)[..., None] / ns)[..., 0]
    Aq = np.einsum("mni,mnj->mij", Xq, Xq) / nq; bq = np.einsum("mni,mn->mi", Xq, yq) / nq
    def phi(T):
        E = np.stack([expm(-T * a) for a in A]); v = c - np.einsum("mij,mj->mi", E, c)
        w = np.linalg.solve(np.einsum("mji,mjk,mkl->il", E, Aq, E), np.einsum("mji,mj->i", E, bq - np.einsum("mij,mj->mi", Aq, v)))
        U = v + np.einsum("mij,j->mi", E, w)
        return np.mean([0.5 * np.mean((Xq[i] @ U[i] - yq[i]) ** 2) for i in range(M)]), w
    T_opt = minimize_scalar(lambda T: phi(T)[0], bounds=(0.0, 5.0), method="bounded", options=dict(xatol=1e-10)).x
    return KStepPool(squared_loss, X, y, Xq, yq), T_opt, phi(T_opt)[1]

@pytest.mark.parametrize("T, sign, scale", [(0.7, 1, 1.0), (0.7, -1, 1.0), (0.4, 1, 2.5)])
def test_gradient_in_z_is_the_derivative_of_F_in_w_and_tau(T, sign, scale):
    kp, w = _lsq(0); lp = LearnedTPool(FlowPool(kp), scale)
    z = np.append(w, sign * T / scale)
    fd = np.array([(lp.F(z + 1e-5 * e, 0) - lp.F(z - 1e-5 * e, 0)) / 2e-5 for e in np.eye(4)])
    np.testing.assert_allclose(lp.grad_F(z, 0), fd, atol=1e-8)  # a missing sign(τ) or scale fails the τ entry
    assert abs(lp.F(z, 0) - FlowPool(kp).F(w, T)) < 1e-14 and lp.T_of(z) == pytest.approx(T, abs=1e-15)
    H = lp.hess_F(z, 0)
    g = lambda u: lp.grad_F(u, 0)
    H_fd = np.stack([(g(z + 1e-4 * e) - g(z - 1e-4 * e)) / 2e-4 for e in np.eye(4)], 1)
    np.testing.assert_allclose(H, H_fd, atol=1e-6); np.testing.assert_allclose(H, H.T, atol=1e-8)

def test_padded_oracles_act_on_w_only():
    kp, w = _lsq(1); lp = LearnedTPool(FlowPool(kp)); z = lp.z_of(w, 0.3); V = np.ones((3, 4))
    np.testing.assert_array_equal(lp.grad_f(z), np.append(kp.grad_f(w), 0))
    np.testing.assert_array_equal(lp.task_grads(z)[:, -1], 0); np.testing.assert_array_equal(lp.task_hvps(z, V)[:, :-1], kp.task_hvps(w, V[:, :-1]))
    H = lp.hess_f(z); assert H.shape == (4, 4) and np.all(H[-1] == 0) and np.allclose(H[:3, :3], kp.hess_f(w))
    np.testing.assert_allclose(lp.hvp_f(z, np.arange(4.0)), H @ np.arange(4.0), atol=1e-12)
    assert lp.f(z) == kp.f(w) and isinstance(lp.sample(2, np.random.default_rng(0)), LearnedTPool)

def test_tau_zero_takes_the_one_sided_derivative_that_descends():
    kp, w = _lsq(2); fp = FlowPool(kp); lp = LearnedTPool(fp, 3.0)
    gT = fp.grad_T(w, 0.0); z = lp.z_of(w, 0.0)
    assert lp.grad_F(z, 0)[-1] == pytest.approx(3.0 * min(0.0, gT), abs=1e-14)
    assert lp.grad_F(np.append(w, 1e-9), 0)[-1] == pytest.approx(3.0 * gT, rel=1e-5)  # away from 0: s·sign(τ)·∂F_T/∂T

def test_maml_on_z_is_the_hand_loop_on_w_and_T():
    kp, _ = _lsq(0, M=4, n=12); lp = LearnedTPool(FlowPool(kp, rtol=1e-9, atol=1e-11), scale=2.0)
    r = maml(lp, lp.z_of(np.zeros(3), 0.1), 0.0, 0.2, max_iter=10, record_every=1)
    w, T = np.zeros(3), 0.1
    for _ in range(10): g, gT = lp.pool.grad_F(w, T), lp.pool.grad_T(w, T); w, T = w - 0.2 * g, abs(T - 0.2 * 4.0 * gT)
    assert np.abs(r.w[:-1] - w).max() < 1e-12 and abs(lp.T_of(r.w) - T) < 1e-12
    np.testing.assert_allclose(r.F, [lp.pool.F(z[:-1], lp.T_of(z)) for z in r.iterates], rtol=1e-10)

def test_ode_ends_at_the_T_of_a_scalar_minimisation():
    kp, T_opt, w_opt = _interior()
    lp = LearnedTPool(FlowPool(kp, rtol=1e-8, atol=1e-10))
    res = solve(lp, lp.z_of(np.zeros(3), 0.3), 0.0, "PTC", eps=1e-8)
    assert res.status == "converged" and res.grad_F_norm[-1] <= 1e-8
    assert abs(lp.T_of(res.w) - T_opt) < 1e-4 and np.abs(res.w[:-1] - w_opt).max() < 1e-4
    assert 1.0 < T_opt < 1.1  # interior: the notebook states T* = 1.055815

def test_bimaml_runs_both_phases_with_T_fixed_in_phase_1_and_other_algorithms_run():
    kp, _ = _lsq(0, M=4, n=12); lp = LearnedTPool(FlowPool(kp, rtol=1e-6, atol=1e-9)); z0 = lp.z_of(np.full(3, 3.0), 0.0)
    r = bimaml(lp, z0, 0.0, 0.2, eps0=0.5 * np.linalg.norm(lp.grad_f(z0)), max_iter=15, record_every=1)
    T = lp.T_of(r.iterates)
    assert set(r.phase) == {1, 2} and np.all(T[r.phase == 1] == 0) and T[-1] > 0.05
    for run in (fo_maml, nesterov_maml): assert run(lp, lp.z_of(np.zeros(3), 0.2), 0.0, 0.1, max_iter=3).status == "budget"
    assert solve(lp, lp.z_of(np.zeros(3), 0.2), 0.0, "RK45", eps=1e-3, max_steps=3).status in ("budget", "converged")

def test_learn_T_reflects_at_zero_and_keeps_its_result_in_w():
    kp, _ = _lsq(3); fp = FlowPool(kp, rtol=1e-9, atol=1e-11)
    r = learn_T(fp, np.zeros(3), 0.0, 0.1, 0.5, max_iter=5)
    w, T = np.zeros(3), 0.0
    for _ in range(5): g, gT = fp.grad_F(w, T), fp.grad_T(w, T); w, T = w - 0.1 * g, (max(0.0, -0.5 * gT) if T == 0 else abs(T - 0.5 * gT))
    assert r.w.shape == (3,) and np.abs(r.w - w).max() < 1e-12 and abs(r.params["T_path"][-1] - T) < 1e-12
    assert len(r.params["T_path"]) == 6 and r.params["scale"] == pytest.approx(np.sqrt(5.0))

KP, KW = _lsq(4)[0], np.zeros(3)
LP = LearnedTPool(FlowPool(KP))
@pytest.mark.parametrize("call, says", [
    (lambda: LearnedTPool(None), "pool must be a FlowPool"), (lambda: LearnedTPool(KP), "pool must be a FlowPool"),
    (lambda: LearnedTPool(FlowPool(KP), scale=0.0), "scale"), (lambda: LearnedTPool(FlowPool(KP), scale=np.nan), "scale"),
    (lambda: LP.F(np.zeros(4), 0.3), "alpha must be 0"), (lambda: LP.F(np.zeros(4), -1.0), "alpha"), (lambda: LP.grad_F(np.zeros(4), None), "alpha"),
    (lambda: LP.F(np.zeros(3), 0.0), "z must have shape (4,)"), (lambda: LP.F(np.full(4, np.nan), 0.0), "z"),
    (lambda: LP.grad_F(np.zeros(4), 0.0, "hessian_free"), "order"), (lambda: LP.grad_F(np.zeros(4), 0.0, None), "order"),
    (lambda: LP.hvp_F(np.zeros(4), np.ones(4), 0.0, eps=0.0), "eps"), (lambda: LP.hvp_F(np.zeros(4), np.ones(3), 0.0), "v"),
    (lambda: LP.T_of(np.zeros((2, 3))), "z"), (lambda: LP.T_of("a"), "z"), (lambda: LP.z_of(KW, -1.0), "T"), (lambda: LP.z_of(np.ones(4), 1.0), "w"),
    (lambda: LP.task_hvps(np.zeros(4), np.ones((2, 4))), "V"), (lambda: learn_T(KP, KW, 0.1, 0.2, 0.2), "pool must be a FlowPool"),
    (lambda: learn_T(FlowPool(KP), KW, -0.1, 0.2, 0.2), "T0"), (lambda: learn_T(FlowPool(KP), KW, 0.1, 0.2, 0.0), "beta_T"),
    (lambda: learn_T(FlowPool(KP), KW, 0.1, 1e-300, 1e300), "beta"), (lambda: learn_T(FlowPool(KP), KW, 0.1, 0.2, 0.2, max_iter=-1), "max_iter"),
    (lambda: maml(LP, np.zeros(4), 0.1, 0.2), "alpha must be 0"), (lambda: solve(LP, np.zeros(3), 0.0), "w0"),
])
def test_bad_input_is_refused_by_name(call, says):
    with pytest.raises((TypeError, ValueError), match=says.replace("(", r"\(").replace(")", r"\)")): call()

def test_huge_T_is_an_error_not_a_hang():
    with pytest.raises(NonFinite): LP.F(np.append(np.full(3, 1e150), 1e6), 0.0)

FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@FUZZ
@given(w=st.lists(st.floats(-3, 3), min_size=3, max_size=3), tau=st.floats(-1.5, 1.5), s=st.floats(0.2, 3.0))
def test_F_is_even_in_tau_and_the_gradient_odd(w, tau, s):
    lp = LearnedTPool(FlowPool(KP, rtol=1e-9, atol=1e-11), s); z = np.append(w, tau); zm = np.append(w, -tau)
    assert lp.F(z, 0) == pytest.approx(lp.F(zm, 0), rel=1e-12, abs=1e-14)
    g, gm = lp.grad_F(z, 0), lp.grad_F(zm, 0)
    np.testing.assert_allclose(g[:-1], gm[:-1], rtol=1e-9, atol=1e-12)
    if tau != 0: assert g[-1] == pytest.approx(-gm[-1], rel=1e-9, abs=1e-12)
    assert np.all(np.isfinite(g)) and lp.T_of(z) == pytest.approx(s * abs(tau))

BAD = [None, "a", 1 + 2j, True, [1.0], np.nan, np.inf, -1.0, 0.5, np.ones(2), object()]
@FUZZ
@given(which=st.sampled_from(["alpha", "z", "v", "eps", "scale", "T", "order"]), v=st.sampled_from(BAD) | st.floats(allow_nan=True))
def test_bad_arguments_give_clear_errors_or_finite_results(which, v):
    import signal
    calls = dict(alpha=lambda: LP.F(np.zeros(4), v), z=lambda: LP.grad_F(v, 0.0), v=lambda: LP.hvp_F(np.zeros(4), v, 0.0),
                 eps=lambda: LP.hvp_F(np.zeros(4), np.ones(4), 0.0, eps=v), scale=lambda: LearnedTPool(FlowPool(KP), v),
                 T=lambda: LP.z_of(KW, v), order=lambda: LP.grad_F(np.zeros(4), 0.0, v))
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("hang"))); signal.alarm(20)
    try: out = calls[which]()
    except (TypeError, ValueError) as e:
        assert which in str(e) or (which == "v" and "v " in str(e)) or (which in ("scale", "T") and which in str(e)), str(e)
        return
    finally: signal.alarm(0)
    assert np.all(np.isfinite(np.asarray(out, dtype=float) if not isinstance(out, LearnedTPool) else 0.0))
