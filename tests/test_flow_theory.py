"""The paper's conditions on α and their analogue in T (11_flow, Theory section): closed forms against the functions, the bounds,
Lemma 3.7 in T and the pair of tasks where it fails, the outer ODE's rate, bad input, and a hypothesis property. The figures printed
in the chapter's prose are pinned here."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from scipy.linalg import expm
from scipy.optimize import brentq
from bimaml_nb.oracles import squared_loss
from bimaml_nb.kstep import KStepPool
from bimaml_nb.flow import (FlowPool, flow_hessian, flow_strong_convexity, kstep_strong_convexity, flow_hessian_bounds,
                            zeta_T, T_zeta_zero, zeta_T_exact)
from bimaml_nb.theory import task_hessians, spread, lyapunov_lhs, Constants, alpha_zeta_zero
from bimaml_nb.ode import solve, linear_rate

def _chapter_pool():
    "The chapter's first least-squares tasks (seed 0, M = 4, n = 12, d = 3) with the support data as query: kt, its A_i and w."
    r = np.random.default_rng(0); M, n, d = 4, 12, 3
    X, _ = r.normal(size=(M, n, d)), r.normal(size=(M, n, d))
    y, _ = r.normal(size=(M, n)), r.normal(size=(M, n))
    w = r.normal(size=d)
    return KStepPool(squared_loss, X, y), np.einsum("mni,mnj->mij", X, X) / n, w

def _shared_eigenvalue_2():
    "The chapter's contrast tasks: four in d = 3, each with eigenvalue 2 on q = (1, 1, 1)/√3."
    rc = np.random.default_rng(3); d, M = 3, 4
    q = np.ones(d) / np.sqrt(d); P = np.eye(d) - np.outer(q, q)
    B = rc.normal(size=(M, d, d)); B = np.einsum("mij,mkj->mik", B, B) / d + 0.5 * np.eye(d)
    return 2.0 * np.outer(q, q) + np.einsum("ij,mjk,kl->mil", P, B, P)

def _pair():
    "The chapter's pair of tasks where ‖∇f‖ rises: diag(10, 0.1) and diag(1, 0.1) turned by 45°, minimisers e_1 and e_2."
    Rot = lambda t: np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return np.array([np.diag([10.0, 0.1]), Rot(np.pi / 4) @ np.diag([1.0, 0.1]) @ Rot(np.pi / 4).T]), np.eye(2)

def _spd(seed, M=3, d=3, lo=0.1, hi=3.0):
    r = np.random.default_rng(seed)
    Q = np.linalg.qr(r.normal(size=(M, d, d)))[0]; ev = r.uniform(lo, hi, size=(M, d))
    return np.einsum("mij,mj,mkj->mik", Q, ev, Q), ev

# closed forms

@pytest.mark.parametrize("T", [0.0, 0.05, 0.7, 4.0])
def test_flow_hessian_is_E_expm_A_expm(T):
    A, _ = _spd(1)
    E = np.stack([expm(-T * a) for a in A])
    want = np.einsum("mij,mjk,mkl->il", E, A, E) / len(A)
    np.testing.assert_allclose(flow_hessian(A, T), want, atol=1e-13)
    if T > 0:  # a halved exponent, A e^{−TA}, is far from it: the test above catches it
        half = np.einsum("mij,mjk->ik", A, E) / len(A)
        assert np.abs(half - want).max() > 1e-3
    p = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(flow_hessian(A, T, p=p), np.einsum("m,mij,mjk,mkl->il", p, E, A, E), atol=1e-13)

def test_flow_hessian_at_T_0_is_the_mean_task_hessian():
    A, _ = _spd(2)
    np.testing.assert_allclose(flow_hessian(A, 0.0), A.mean(0), atol=1e-14)

@pytest.mark.parametrize("K", [1, 2, 5])
def test_kstep_strong_convexity_matches_the_k_step_pools_autograd_hessian(K):
    "Catches (I − αA)^K for ^(2K), or α = T for α = T/K."
    kt, A, w = _chapter_pool()
    H = KStepPool(squared_loss, kt.X, kt.y, K=K).hess_F(w, 0.6 / K)
    assert abs(np.linalg.eigvalsh(H)[0] - kstep_strong_convexity(A, 0.6, K)) < 1e-12
    np.testing.assert_allclose(flow_hessian(A, 0.6, K), H, atol=1e-12)

def test_flow_strong_convexity_matches_the_flow_pools_hessian():
    "λ_min of FlowPool.hess_F (central differences of adjoint meta-gradients) against the closed form, to 1e-8 (the prose's figure)."
    kt, A, w = _chapter_pool()
    assert np.abs(task_hessians(kt, w) - A).max() < 1e-12
    for T in (0.0, 0.3, 1.0):
        H = FlowPool(kt).hess_F(w, T)
        assert abs(np.linalg.eigvalsh((H + H.T) / 2)[0] - flow_strong_convexity(A, T)) < 1e-8

def test_k_step_approaches_the_flow():
    A, _ = _spd(4)
    gaps = [abs(kstep_strong_convexity(A, 0.5, K) - flow_strong_convexity(A, 0.5)) for K in (10, 100, 1000)]
    assert gaps[0] > 8 * gaps[1] > 64 * gaps[2]  # first order in α = T/K

# the bounds (Theorem 3.8 in T)

def test_bounds_closed_form():
    "μ = 0.5, L = 4, T = 0.25: lower min(0.5e^{−0.25}, 4e^{−2}), upper at λ = 1/(2T) = 2: 2e^{−1}; T = 0: (μ, L)."
    lo, hi = flow_hessian_bounds(0.5, 4.0, 0.25)
    assert np.isclose(lo, 0.5 * np.exp(-0.25), rtol=1e-14) and np.isclose(hi, 2 * np.exp(-1), rtol=1e-14)
    assert flow_hessian_bounds(0.5, 4.0, 0.0) == (0.5, 4.0)
    assert flow_hessian_bounds(0.5, 4.0, 2.0) == (pytest.approx(4 * np.exp(-16), rel=1e-14), pytest.approx(0.5 * np.exp(-2), rel=1e-14))
    lo, hi = flow_hessian_bounds([0.5, 1.0], [4.0, 2.0], 0.25, p=[0.25, 0.75])  # per task, weighted
    assert np.isclose(lo, 0.25 * 0.5 * np.exp(-0.25) + 0.75 * np.exp(-0.5), rtol=1e-14)
    assert np.isclose(hi, 0.25 * 2 * np.exp(-1) + 0.75 * 2 * np.exp(-1), rtol=1e-14)

def test_one_task_lower_bound_is_lambda_min():
    "Catches a swapped min/max or a wrong exponent: for one task the lower bound is its λ_min exactly."
    A, ev = _spd(5, M=1, d=4)
    for T in (0.0, 0.01, 0.3, 2.0):
        assert np.isclose(flow_hessian_bounds(ev.min(), ev.max(), T)[0], flow_strong_convexity(A, T), rtol=1e-10)

def test_bounds_hold_on_the_chapters_random_pools():
    rb = np.random.default_rng(7); Ts = np.r_[0.0, np.geomspace(0.01, 10, 7)]; worst = np.inf
    for _ in range(30):
        M, d = rb.integers(1, 6), rb.integers(2, 5)
        Q = np.linalg.qr(rb.normal(size=(M, d, d)))[0]; ev = rb.uniform(0.1, 1.0, size=(M, d))
        A = np.einsum("mij,mj,mkj->mik", Q, ev, Q)
        for T in Ts:
            lo, hi = flow_hessian_bounds(ev.min(1), ev.max(1), T); eig = np.linalg.eigvalsh(flow_hessian(A, T))
            assert lo <= eig[0] + 1e-13 * eig[-1] and eig[-1] <= hi + 1e-13 * eig[-1]
            worst = min(worst, eig[0] / lo)
    assert worst >= 1 - 1e-9

def test_contrast_one_step_singular_where_flow_is_not():
    "The chapter's table: one step of α = 1/2 and two of α = 1/2 singular; the flow 0.198 (bound 0.169) at T = 0.5, 0.0366 (0.0177) at T = 1."
    A = _shared_eigenvalue_2(); ev = np.linalg.eigvalsh(A); mu, L = ev.min(), ev.max()
    assert abs(kstep_strong_convexity(A, 0.5, 1)) < 1e-14 and abs(kstep_strong_convexity(A, 1.0, 2)) < 1e-14
    assert kstep_strong_convexity(A, 1 / (2 * L), 1) >= mu / 4  # Theorem 3.8's α = 1/(2L) on quadratics
    got = [flow_strong_convexity(A, 0.5), flow_hessian_bounds(ev.min(1), ev.max(1), 0.5)[0],
           flow_strong_convexity(A, 1.0), flow_hessian_bounds(ev.min(1), ev.max(1), 1.0)[0]]
    np.testing.assert_allclose(got, [0.198, 0.169, 0.0366, 0.0177], atol=5e-4)
    assert all(kstep_strong_convexity(A, T, 10) > 0 for T in (0.25, 0.5, 1.0))

# the outer ODE (Theorem 3.6's second phase in T)

def test_grad_F_T_decays_at_least_at_lambda_min_along_the_ode():
    "The chapter's run: fitted rate 0.3026 ≥ λ_min(∇²F_T) = 0.2858 ≥ bound 0.2532, under the envelope at every row."
    kt, A, _ = _chapter_pool(); ev = np.linalg.eigvalsh(A); T = 0.5
    m, lo = flow_strong_convexity(A, T), flow_hessian_bounds(ev.min(1), ev.max(1), T)[0]
    r = solve(FlowPool(kt, rtol=1e-6, atol=1e-8), np.full(3, 3.0), T, "RK45", eps=1e-3, rtol=1e-4, atol=1e-6)
    assert r.status == "converged"
    assert np.all(r.grad_F_norm <= (1 + 1e-6) * r.grad_F_norm[0] * np.exp(-m * r.t))
    rate = linear_rate(r)
    assert rate >= m >= lo
    np.testing.assert_allclose([rate, m, lo], [0.3026, 0.2858, 0.2532], atol=5e-4)

# Lemma 3.7 in T

def test_zeta_T_closed_form_and_its_root():
    mu, L = 0.3, 2.0
    assert zeta_T(mu, L, 0.0) == mu
    th = 1 - np.exp(-2 * 0.1 * L)
    assert np.isclose(zeta_T(mu, L, 0.1), mu - L * th * (1 + L * th / 2), rtol=1e-14)
    Tz = T_zeta_zero(mu, L)
    assert abs(zeta_T(mu, L, Tz)) < 1e-14 and zeta_T(mu, L, 0.9 * Tz) > 0 > zeta_T(mu, L, 1.1 * Tz)
    assert np.isclose(Tz, brentq(lambda t: zeta_T(mu, L, t), 0, 1, xtol=1e-15), rtol=1e-10)

def test_lemma_3_7_in_T_holds_pointwise():
    "(3.5) with ζ_T and the spread at w, at the chapter's 20 points; T_ζ = 0.0212, μ = 0.131, L = 1.74 (the prose's figures)."
    kt, A, _ = _chapter_pool(); ev = np.linalg.eigvalsh(A); mu, L = ev.min(), ev.max(); ft = FlowPool(kt)
    Tz = T_zeta_zero(mu, L)
    assert abs(Tz - 0.0212) < 5e-5 and abs(mu - 0.131) < 5e-4 and abs(L - 1.74) < 5e-3
    rl = np.random.default_rng(11)
    for T in (0.0, Tz / 2, 0.01, 0.1, 1.0):
        for _ in range(4):
            w = 3 * rl.normal(size=3)
            rhs = spread(kt, w) ** 2 / 2 - zeta_T(mu, L, T) * np.linalg.norm(kt.grad_f(w)) ** 2
            assert lyapunov_lhs(ft, w, T) <= rhs + 1e-9 * abs(rhs)

def test_zeta_T_exact_closed_forms():
    A, ev = _spd(6)
    assert np.isclose(zeta_T_exact(A, 0.0), np.linalg.eigvalsh(A.mean(0))[0], rtol=1e-12)  # ζ(0) = λ_min(Ā)
    A1, ev1 = _spd(7, M=1)
    for T in (0.2, 1.0):  # one task: Ā and ∇²F_T commute, ζ(T) = λ_min(∇²F_T)
        assert np.isclose(zeta_T_exact(A1, T), np.min(ev1 * np.exp(-2 * T * ev1)), rtol=1e-10)

def test_the_pair_where_grad_f_rises():
    "T_ζ = 4.795e-4 beside α_ζ = 3.851e-4; exact ζ > 0 up to T = 0.0384, < 0 at 0.1 and 0.3 (flow and one step); ‖∇f‖ 10 → 14.34 at T = 0.3."
    A, C = _pair()
    X = np.sqrt(2) * np.linalg.cholesky(A).transpose(0, 2, 1); k = KStepPool(squared_loss, X, np.einsum("mij,mj->mi", X, C))
    assert np.abs(task_hessians(k, np.zeros(2)) - A).max() < 1e-12
    Tz, az = T_zeta_zero(0.1, 10.0), alpha_zeta_zero(Constants(10.0, 0.1, 0.0, 0.0, 1, 0))
    T_ex = brentq(lambda t: zeta_T_exact(A, t), 1e-3, 0.3, xtol=1e-12)
    np.testing.assert_allclose([Tz, az, T_ex], [4.795e-4, 3.851e-4, 0.0384], rtol=2e-3)
    assert 79 < T_ex / Tz < 81 and zeta_T(0.1, 10.0, Tz / 2) > 0 and zeta_T_exact(A, 0.01) > 0
    assert all(zeta_T_exact(A, T, K) < 0 for T in (0.1, 0.3) for K in (None, 1))
    Ab = A.mean(0); S = Ab @ flow_hessian(A, 0.3) @ np.linalg.inv(Ab); v = np.linalg.eigh((S + S.T) / 2)[1][:, 0]
    w0 = np.linalg.solve(Ab, np.einsum("mij,mj->i", A, C) / 2 + 10 * v)
    f = FlowPool(k, rtol=1e-7, atol=1e-9)
    assert lyapunov_lhs(f, w0, 0.3) > 0
    up = solve(f, w0, 0.3, "RK45", t_max=0.5, eps=1e-8, rtol=1e-6, atol=1e-8).grad_f_norm
    down = solve(f, w0, 0.01, "RK45", t_max=0.5, eps=1e-8, rtol=1e-6, atol=1e-8).grad_f_norm
    assert abs(up[0] - 10) < 1e-9 and np.all(np.diff(up) > 0) and abs(up[-1] - 14.34) < 0.01
    assert np.all(np.diff(down) < 0)

# bad input

@pytest.mark.parametrize("call, exc, match", [
    (lambda A: flow_hessian(A[0], 0.1), ValueError, r"A must hold one d×d task Hessian per task"),
    (lambda A: flow_hessian(A[:, :2], 0.1), ValueError, r"A must hold one d×d"),
    (lambda A: flow_hessian(A + np.triu(np.ones(3), 1), 0.1), ValueError, r"A must hold symmetric"),
    (lambda A: flow_hessian(A - 10 * np.eye(3), 0.1), ValueError, r"A must be positive definite"),
    (lambda A: flow_hessian(np.where(A > 0, np.nan, A), 0.1), ValueError, r"A contains NaN"),
    (lambda A: flow_hessian(A, -0.1), ValueError, r"T must be"),
    (lambda A: flow_hessian(A, True), TypeError, r"T must be a real number"),
    (lambda A: flow_hessian(A, 0.1, p=[1.0]), ValueError, r"p must have one probability per task"),
    (lambda A: kstep_strong_convexity(A, 0.1, 0), ValueError, r"K must be an integer >= 1"),
    (lambda A: kstep_strong_convexity(A, 0.1, 2.0), TypeError, r"K must be an integer"),
    (lambda A: flow_strong_convexity(A, np.inf), ValueError, r"T must be a finite number"),
    (lambda A: zeta_T_exact(A, 0.1, K=-1), ValueError, r"K must be an integer >= 1"),
    (lambda A: flow_hessian_bounds(0.0, 1.0, 0.1), ValueError, r"mu must be > 0"),
    (lambda A: flow_hessian_bounds(2.0, 1.0, 0.1), ValueError, r"L must be >= mu"),
    (lambda A: flow_hessian_bounds([0.1, 0.2], [1.0, 2.0, 3.0], 0.1), ValueError, r"mu and L must be numbers or one per task"),
    (lambda A: flow_hessian_bounds([0.1, 0.2], [1.0, 2.0], 0.1, p=[0.5, 0.6]), ValueError, r"p must be a distribution"),
    (lambda A: flow_hessian_bounds(0.1, 1.0, -1.0), ValueError, r"T must be"),
    (lambda A: zeta_T(0.0, 1.0, 0.1), ValueError, r"mu must be"),
    (lambda A: zeta_T(0.5, 0.1, 0.1), ValueError, r"L must be"),
    (lambda A: zeta_T(0.1, 1.0, "1"), TypeError, r"T must be a real number"),
    (lambda A: T_zeta_zero(0.1, np.nan), ValueError, r"L must be"),
])
def test_bad_input_names_the_argument(call, exc, match):
    A, _ = _spd(8, M=2)
    with pytest.raises(exc, match=match): call(A)

# property

@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 4), st.floats(0.0, 10.0))
def test_bounds_hold_for_random_spd_tasks(seed, M, d, T):
    A, ev = _spd(seed, M, d, 0.05, 5.0)
    lo, hi = flow_hessian_bounds(ev.min(1), ev.max(1), T)
    eig = np.linalg.eigvalsh(flow_hessian(A, T)); tol = 1e-13 * max(eig[-1], 1e-300)
    assert lo <= eig[0] + tol and eig[-1] <= hi + tol
    assert kstep_strong_convexity(A, T, 1) >= -1e-12 * max(1.0, np.abs(flow_hessian(A, T, 1)).max())  # one step: PSD, never negative
