"""The inner loop as gradient flow: closed forms on least squares, first-order convergence of K-step MAML, the adjoint against finite differences, iMAML's closed form, flat memory."""
import tracemalloc
import numpy as np
import pytest
from scipy.linalg import expm
from bimaml_nb.oracles import squared_loss, NonFinite
from bimaml_nb.kstep import KStepPool, MLP, model_loss
from bimaml_nb.flow import FlowPool, imaml_grad

def _lsq(seed, M=3, n=9, d=3):
    r = np.random.default_rng(seed)
    X, Xq, y, yq = r.normal(size=(M, n, d)), r.normal(size=(M, n, d)), r.normal(size=(M, n)), r.normal(size=(M, n))
    A = np.einsum("mni,mnj->mij", X, X) / n; b = np.einsum("mni,mn->mi", X, y) / n
    Aq = np.einsum("mni,mnj->mij", Xq, Xq) / n; bq = np.einsum("mni,mn->mi", Xq, yq) / n
    return KStepPool(squared_loss, X, y, Xq, yq), A, b, Aq, bq, r.normal(size=d)

@pytest.mark.parametrize("seed, T", [(0, 0.3), (1, 1.5), (2, 0.0)])
def test_flow_meta_gradient_and_time_derivative_match_the_matrix_exponential(seed, T):
    kp, A, b, Aq, bq, w = _lsq(seed); fp = FlowPool(kp)
    c = np.linalg.solve(A, b[..., None])[..., 0]; E = np.stack([expm(-T * a) for a in A])
    U = c + np.einsum("mij,mj->mi", E, w - c)
    gq = np.einsum("mij,mj->mi", Aq, U) - bq
    np.testing.assert_allclose(fp.flow(w, T), U, atol=1e-10)
    np.testing.assert_allclose(fp.grad_F(w, T), np.einsum("mij,mj->mi", E, gq).mean(0), atol=1e-10)
    np.testing.assert_allclose(fp.grad_F(w, T, "first"), gq.mean(0), atol=1e-10)
    np.testing.assert_allclose(fp.grad_T(w, T), -np.mean(np.einsum("mi,mi->m", gq, np.einsum("mij,mj->mi", A, U) - b)), atol=1e-10)
    F, g, gf = fp.F_grads(w, T)
    assert np.isclose(F, fp.F(w, T), rtol=1e-12) and np.allclose(g, fp.grad_F(w, T), atol=1e-12)

def test_k_step_maml_converges_to_the_flow_at_first_order():
    kp, A, b, Aq, bq, w = _lsq(5); fp = FlowPool(kp); T = 0.8
    err = [np.abs(KStepPool(squared_loss, kp.X, kp.y, kp.Xq, kp.yq, K=K).grad_F(w, T / K) - fp.grad_F(w, T)).max() for K in (20, 200)]
    assert 8 < err[0] / err[1] < 12  # O(α): ten times more steps, ten times less error

def test_adjoint_is_the_derivative_of_F_T_on_a_network_and_memory_is_flat_in_T():
    from bimaml_nb.sinusoid import draw_sinusoid
    net = MLP((1, 10, 10, 1), "tanh"); fp = FlowPool(KStepPool(model_loss(net), *draw_sinusoid(3, np.random.default_rng(0), 5, 5)))
    w = net.init(np.random.default_rng(1)); g = fp.grad_F(w, 0.4)
    v = np.random.default_rng(2).normal(size=net.n_params); v /= np.linalg.norm(v)
    fd = (fp.F(w + 1e-5 * v, 0.4) - fp.F(w - 1e-5 * v, 0.4)) / 2e-5
    assert abs(fd - g @ v) < 1e-6 * max(1.0, abs(fd))
    small = MLP((1, 5, 5, 1), "tanh"); ws = small.init(np.random.default_rng(1))
    fs = FlowPool(KStepPool(model_loss(small), *draw_sinusoid(3, np.random.default_rng(0), 5, 5)), rtol=1e-6, atol=1e-8, method="sensitivity")
    def peak(T):
        tracemalloc.start(); fs.grad_F(ws, T); p = tracemalloc.get_traced_memory()[1]; tracemalloc.stop(); return p
    mem = [peak(T) for T in (0.01, 1.0)]
    assert mem[1] < 1.2 * mem[0] and mem[0] > 3 * 8 * small.n_params ** 2, mem  # the sensitivities, M d² numbers, whatever T is

def test_the_adjoint_checks_its_backward_flow_and_halves_where_it_drifts():
    "At T = 1 on this network one backward pass drifts from the forward flow by ~1e4 (the gradient off by 1e8); halved segments agree with forward sensitivities."
    from bimaml_nb.sinusoid import draw_sinusoid
    net = MLP((1, 8, 8, 1), "tanh"); data = draw_sinusoid(3, np.random.default_rng(1), 5, 5); w = net.init(np.random.default_rng(2))
    fa = FlowPool(KStepPool(model_loss(net), *data), rtol=1e-8, atol=1e-10)
    U = fa.flow(w, 1.0); Ub, a_once, _ = fa._backwards(U, fa.pool._Gq(U), 1.0)
    assert np.abs(Ub - w).max() > 1e3  # one segment: the backward u is useless
    gs = FlowPool(KStepPool(model_loss(net), *data), rtol=1e-8, atol=1e-10, method="sensitivity").grad_F(w, 1.0)
    assert np.abs(fa.p @ a_once - gs).max() > 1e7  # and so is the meta-gradient of that one pass (the chapter's prose)
    assert np.abs(fa.grad_F(w, 1.0) - gs).max() < 1e-6 * np.abs(gs).max()

def test_imaml_matches_its_closed_form_and_the_flow_for_a_short_time():
    kp, A, b, Aq, bq, w = _lsq(3); lam = 4.0; I = np.eye(3)
    Us = np.linalg.solve(A + lam * I, (b + lam * w)[..., None])[..., 0]
    G = np.einsum("mij,mj->mi", lam * np.linalg.inv(A + lam * I), np.einsum("mij,mj->mi", Aq, Us) - bq).mean(0)
    F, g, U = imaml_grad(kp, w, lam)
    np.testing.assert_allclose(U, Us, atol=1e-9); np.testing.assert_allclose(g, G, atol=1e-9)
    assert np.abs(imaml_grad(kp, w, 1e4)[1] - FlowPool(kp).grad_F(w, 1e-4)).max() < 1e-6

def test_flow_pool_refuses_bad_input_by_name():
    kp, *_ , w = _lsq(0)
    fp = FlowPool(kp)
    for call, says in ((lambda: FlowPool(None), "pool must be a KStepPool"), (lambda: FlowPool(kp, rtol=0), "rtol must be"),
                       (lambda: fp.F(w, -1.0), "alpha"), (lambda: fp.grad_F(w, 0.1, "hessian_free"), "order must be 'exact' or 'first'"),
                       (lambda: fp.flow(np.ones(5), 0.1), "w must have shape"), (lambda: imaml_grad(kp, w, 0.0), "lam must be"),
                       (lambda: imaml_grad(None, w, 1.0), "pool must be a KStepPool")):
        with pytest.raises((TypeError, ValueError), match=says): call()
    with pytest.raises(NonFinite): fp.F(np.full(3, 1e200), 1.0)

def test_learned_T_descends_F_on_w_and_T_and_records_the_path():
    from bimaml_nb.flow import learn_T
    kp, A, b, Aq, bq, w = _lsq(0, M=4, n=12)
    fp = FlowPool(kp, rtol=1e-9, atol=1e-11)
    r = learn_T(fp, np.zeros(3), 0.1, 0.2, 0.2, max_iter=20, record_every=1)
    T = r.params["T_path"]; assert len(T) == 21 and T[0] == 0.1
    w1, T1 = np.zeros(3), 0.1  # the same 20 steps by hand
    for _ in range(20): g, gT = fp.grad_F(w1, T1), fp.grad_T(w1, T1); w1, T1 = w1 - 0.2 * g, max(0.0, T1 - 0.2 * gT)
    np.testing.assert_allclose(r.w, w1, rtol=1e-9); assert abs(T[-1] - T1) < 1e-12
    np.testing.assert_allclose(r.F[-1], fp.F(r.w, T[-1]), rtol=1e-10)  # rows record F at the current T
    with pytest.raises(TypeError, match="pool must be a FlowPool"): learn_T(kp, np.zeros(3), 0.1, 0.2, 0.2)

def test_the_cost_ratios_the_prose_states_are_the_runs():
    "The flow chapter and README say the flow and iMAML cost 28 and 11 times MAML's 50 iterations on the paper's synthetic regression."
    import nbformat
    from pathlib import Path
    from bimaml_nb.data import synthetic_regression
    from bimaml_nb.algorithms import maml
    ex = synthetic_regression(); X, y = np.asarray(ex.X), np.asarray(ex.y)
    m = maml(KStepPool(squared_loss, X, y), ex.w0, ex.alpha, ex.beta, max_iter=50).total_cost
    f = maml(FlowPool(KStepPool(squared_loss, X, y), rtol=1e-6, atol=1e-9), ex.w0, ex.alpha, ex.beta, max_iter=50).total_cost
    ip = KStepPool(squared_loss, X, y); w = ex.w0.copy()
    for _ in range(50): w = w - ex.beta * imaml_grad(ip, w, 1 / ex.alpha, inner_tol=1e-8)[1]
    flow_x, imaml_x = round(f / m), round(ip.counter.cost / m)
    root = Path(__file__).parent.parent
    prose = next(c.source for c in nbformat.read(root / "nbs" / "11_flow.ipynb", 4).cells if c.source.startswith("In 50 iterations"))
    assert f"({flow_x} times here)" in prose and f"({imaml_x} times here)" in prose
    assert f"cost {flow_x} and {imaml_x} times MAML's" in (root / "README.md").read_text()

@pytest.mark.parametrize("seed, T, solver", [(3, 0.7, s) for s in ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")] + [(4, 2.0, "DOP853"), (4, 2.0, "LSODA")])
def test_sensitivities_are_the_matrix_exponential_and_both_methods_meet_the_closed_form_with_every_solver(seed, T, solver):
    "S_i(T) = e^{-TA_i}; the meta-gradient of both methods within 5e-8 of E_i e^{-TA_i} ∇f_i^q(u_i(T)) at rtol 1e-8 (1e-10 with DOP853 at the defaults)."
    kp, A, b, Aq, bq, w = _lsq(seed)
    c = np.linalg.solve(A, b[..., None])[..., 0]; E = np.stack([expm(-T * a) for a in A])
    U = c + np.einsum("mij,mj->mi", E, w - c)
    G = np.einsum("mij,mj->mi", E, np.einsum("mij,mj->mi", Aq, U) - bq).mean(0)
    tol = dict(rtol=1e-8, atol=1e-10) if solver != "DOP853" else {}
    for method in ("adjoint", "sensitivity"):
        P = FlowPool(kp, method=method, solver=solver, **tol)
        assert np.abs(P.grad_F(w, T) - G).max() < (5e-8 if tol else 1e-10), (method, solver)
    Us, S = FlowPool(kp, method="sensitivity", solver=solver, **tol).sensitivity(w, T)
    assert np.abs(S - E).max() < (5e-8 if tol else 1e-10) and np.abs(Us - U).max() < (5e-8 if tol else 1e-10)

def test_flow_pool_refuses_an_unknown_method_or_solver():
    kp, *_ = _lsq(0)
    with pytest.raises(ValueError, match="method"): FlowPool(kp, method="backprop")
    with pytest.raises(ValueError, match="solver"): FlowPool(kp, solver="Euler")
    P = FlowPool(kp, method="sensitivity", solver="RK45")
    assert (P.sample(2, np.random.default_rng(0)).method, P.sample(2, np.random.default_rng(0)).solver) == ("sensitivity", "RK45")

@pytest.mark.parametrize("call,names", [
    (lambda P, w: P.sensitivity(np.full(3, np.nan), 0.5), ("w",)),
    (lambda P, w: P.sensitivity(np.ones(4), 0.5), ("w",)),
    (lambda P, w: P.sensitivity(w, -1.0), ("alpha",)),
    (lambda P, w: P.sensitivity(w, "1"), ("alpha",)),
    (lambda P, w: P.sensitivity(w, np.inf), ("alpha",)),
    (lambda P, w: P.grad_F(w, 1e6), ("alpha", "T")),
    (lambda P, w: P.sensitivity(w, 1e6), ("alpha", "T")),
    (lambda P, w: FlowPool(P.pool, method=None), ("method",)),
    (lambda P, w: FlowPool(P.pool, solver=3), ("solver",))])
def test_sensitivities_refuse_bad_input_by_name_and_a_huge_T_fast(call, names):
    "Bad w or T: an error naming it; T = 1e6: NonFinite from the explicit solver's settled step after 50 steps, not a long wait."
    kp, *_, w = _lsq(0)
    with pytest.raises((TypeError, ValueError, NonFinite)) as e: call(FlowPool(kp, method="sensitivity"), w)
    assert any(n in str(e.value) for n in names), str(e.value)
