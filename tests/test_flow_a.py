"""ImplicitPool (iMAML as a pool): closed forms on least squares, the derivative of F_λ off the quadratic, the
package's algorithms converging to F_λ's minimiser, the chapter's comparison figures, and bad input refused by name."""
import signal, time
import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from bimaml_nb.oracles import squared_loss, logistic_loss, hinge_loss, NonFinite
from bimaml_nb.kstep import KStepPool, MLP, model_loss
from bimaml_nb.flow import FlowPool, ImplicitPool, imaml_grad
from bimaml_nb.algorithms import maml
from bimaml_nb import ode
import bimaml_nb

PKG = bimaml_nb.__file__.rsplit("/", 1)[0]

def _lsq(seed, M=3, n=9, d=3):
    r = np.random.default_rng(seed)
    X, Xq, y, yq = r.normal(size=(M, n, d)), r.normal(size=(M, n, d)), r.normal(size=(M, n)), r.normal(size=(M, n))
    A = np.einsum("mni,mnj->mij", X, X) / n; b = np.einsum("mni,mn->mi", X, y) / n
    Aq = np.einsum("mni,mnj->mij", Xq, Xq) / n; bq = np.einsum("mni,mn->mi", Xq, yq) / n
    return KStepPool(squared_loss, X, y, Xq, yq), A, b, Aq, bq, r.normal(size=d)

def _closed(A, b, Aq, bq, w, lam):
    "u*, F_λ, the exact and first-order meta-gradients and F_λ's minimiser, in closed form."
    d = len(w); I = np.eye(d)
    U = np.linalg.solve(A + lam * I, (b + lam * w)[..., None])[..., 0]
    gq = np.einsum("mij,mj->mi", Aq, U) - bq
    P = lam * np.linalg.inv(A + lam * I); r = np.linalg.solve(A + lam * I, b[..., None])[..., 0]
    wmin = np.linalg.solve(np.einsum("mki,mkl,mlj->ij", P, Aq, P), np.einsum("mki,mk->i", P, bq - np.einsum("mij,mj->mi", Aq, r)))
    return U, gq, np.einsum("mij,mj->mi", P, gq).mean(0), gq.mean(0), wmin

@pytest.mark.parametrize("seed, alpha", [(0, 0.2), (1, 1.5), (2, 0.01)])
def test_implicit_pool_matches_the_closed_form(seed, alpha):
    kp, A, b, Aq, bq, w = _lsq(seed); ip = ImplicitPool(kp); lam = 1 / alpha
    U, gq, G, Gfo, _ = _closed(A, b, Aq, bq, w, lam)
    Fq = np.mean([0.5 * np.mean((kp.Xq[i] @ U[i] - kp.yq[i]) ** 2) for i in range(kp.M)])
    assert abs(ip.F(w, alpha) - Fq) < 1e-9
    np.testing.assert_allclose(ip.grad_F(w, alpha), G, atol=1e-9, rtol=0)  # catches a dropped (or halved) λ in the implicit solve
    np.testing.assert_allclose(ip.grad_F(w, alpha, "first"), Gfo, atol=1e-9, rtol=0)  # first order: the query gradient at u*
    F, g, gf = ip.F_grads(w, alpha)
    assert abs(F - Fq) < 1e-9 and np.allclose(g, G, atol=1e-9) and np.allclose(gf, kp.grad_f(w), atol=1e-12)
    assert abs(np.linalg.norm(G - Gfo)) > 1e-3 or alpha < 0.05  # the two orders differ: the test tells them apart

def test_implicit_pool_gives_imaml_grads_numbers_and_no_warm_start():
    kp, A, b, Aq, bq, w = _lsq(4); ip = ImplicitPool(kp)
    F0, g0, _ = imaml_grad(kp, w, 1 / 0.3)
    F1, g1 = ip.F(w, 0.3), ip.grad_F(w, 0.3)
    assert F1 == F0 and np.array_equal(g1, g0)  # one shared inner descent and CG, not a second copy
    ip.grad_F(w + 2.0, 0.3); ip.F(-w, 0.3)  # other points in between: nothing carried over
    assert ip.F(w, 0.3) == F1 and np.array_equal(ip.grad_F(w, 0.3), g1)

def test_implicit_pool_counts_its_work():
    kp, *_, w = _lsq(5); ip = ImplicitPool(kp)
    s = ip.counter.snapshot(); ip.grad_F(w, 0.2); exact = ip.counter.cost_since(s)
    s = ip.counter.snapshot(); ip.grad_F(w, 0.2, "first"); first = ip.counter.cost_since(s)
    assert first > 10 and exact > first + 2  # the inner descent's gradients, then the CG's HVPs on top
    with ip.uncounted():
        s = ip.counter.snapshot(); ip.grad_F(w, 0.2); assert ip.counter.cost_since(s) == 0

def test_implicit_meta_gradient_is_the_derivative_of_F_lambda_off_the_quadratic():
    r = np.random.default_rng(5); M, d = 4, 3
    X, Xq = r.normal(size=(M, 15, d)), r.normal(size=(M, 15, d)); y, yq = np.sign(r.normal(size=(M, 15))), np.sign(r.normal(size=(M, 15)))
    ip = ImplicitPool(KStepPool(logistic_loss(0.01), X, y, Xq, yq), inner_tol=1e-13); w = r.normal(size=d)
    for alpha in (0.5, 2.0):
        g = ip.grad_F(w, alpha)
        for k in range(2):
            v = np.random.default_rng(10 + k).normal(size=d); v /= np.linalg.norm(v)
            fd = (ip.F(w + 1e-5 * v, alpha) - ip.F(w - 1e-5 * v, alpha)) / 2e-5
            assert abs(fd - g @ v) < 1e-9, (alpha, fd, g @ v)
            # the first-order variant is not the derivative here: the test would catch the Jacobian dropped
        assert np.abs(ip.grad_F(w, alpha, "first") - g).max() > 1e-4
    v = np.eye(d)[0]
    hv = ip.hvp_F(w, v, 0.5); H = ip.hess_F(w, 0.5)
    np.testing.assert_allclose(hv, H[:, 0], atol=1e-12)
    np.testing.assert_allclose(hv, (ip.grad_F(w + 1e-4 * v, 0.5) - ip.grad_F(w - 1e-4 * v, 0.5)) / 2e-4, atol=1e-6)

def test_maml_and_the_ode_converge_to_F_lambdas_minimiser():
    kp, A, b, Aq, bq, w = _lsq(0, M=4, n=12); alpha = 0.2
    wmin = _closed(A, b, Aq, bq, w, 1 / alpha)[4]
    r = maml(ImplicitPool(kp), np.zeros(3), alpha, 0.5, eps=1e-8, max_iter=2000)
    assert r.status == "converged" and np.abs(r.w - wmin).max() < 1e-7
    o = ode.solve(ImplicitPool(kp), np.zeros(3), alpha, method="RK45", eps=1e-6)
    assert o.status == "converged" and np.abs(o.w - wmin).max() < 1e-5
    assert np.abs(wmin - maml(kp, np.zeros(3), alpha, 0.5, eps=1e-8, max_iter=2000).w).max() > 1e-3  # not MAML's minimiser

def test_the_chapter_comparison_figures():
    "The flow chapter states: at one w, α = 0.2, F, F_T, F_λ are 1.1936, 1.2221, 1.2440 and one exact meta-gradient costs 3, 79, 21."
    r = np.random.default_rng(0); M, n, d = 4, 12, 3
    X, Xq = r.normal(size=(M, n, d)), r.normal(size=(M, n, d)); y, yq = r.normal(size=(M, n)), r.normal(size=(M, n))
    w = r.normal(size=d); out = []
    for P in (KStepPool(squared_loss, X, y, Xq, yq), FlowPool(KStepPool(squared_loss, X, y, Xq, yq)), ImplicitPool(KStepPool(squared_loss, X, y, Xq, yq))):
        F = P.F(w, 0.2); s = P.counter.snapshot(); P.grad_F(w, 0.2); out.append((round(F, 4), round(P.counter.cost_since(s))))
    assert out == [(1.1936, 3), (1.2221, 79), (1.2440, 21)], out
    import nbformat
    from pathlib import Path
    prose = next(c.source for c in nbformat.read(Path(__file__).parent.parent / "nbs" / "11_flow.ipynb", 4).cells
                 if c.source.startswith("On each eigenvalue a of"))
    assert "1.1936 (F), 1.2221 ($F_T$) and 1.2440 ($F_\\lambda$)" in prose and "3 gradient-equivalents" in prose and "79 for the flow and 21" in prose

# ---------------------------------------------------------------- bad input: clear errors, no foreign exceptions, no hangs
def _clear(fn, names, limit=20):
    "fn() must raise ValueError/TypeError/ArithmeticError from a package `raise` naming one of names, within limit seconds."
    import traceback
    def alarm(*_): raise TimeoutError("hang")
    signal.signal(signal.SIGALRM, alarm); signal.alarm(limit)
    try: fn()
    except TimeoutError: raise AssertionError("hang")
    except (ValueError, TypeError, ArithmeticError) as e:
        last = traceback.extract_tb(e.__traceback__)[-1]
        assert last.filename.startswith(PKG) and "raise" in (last.line or ""), f"{type(e).__name__} from {last.filename}:{last.lineno}: {e}"
        assert any(n in str(e) for n in names), f"{e} names none of {names}"
        return e
    else: raise AssertionError("accepted")
    finally: signal.alarm(0)

KP, *_, W = _lsq(0)
IP = ImplicitPool(KP)

@pytest.mark.parametrize("call, names", [
    (lambda: ImplicitPool(None), ("pool",)), (lambda: ImplicitPool(FlowPool(KP)), ("pool",)), (lambda: ImplicitPool(3), ("pool",)),
    *[(lambda v=v: ImplicitPool(KP, inner_tol=v), ("inner_tol",)) for v in (0.0, -1.0, np.nan, np.inf, None, "a")],
    *[(lambda v=v: ImplicitPool(KP, max_inner=v), ("max_inner",)) for v in (0, -1, 1.5, None, True)],
    *[(lambda v=v: ImplicitPool(KP, cg_iters=v), ("cg_iters",)) for v in (0, 2.0, None)],
    *[(lambda v=v: IP.F(W, v), ("alpha",)) for v in (0.0, -1.0, np.nan, np.inf, None, "a", 1e-320, np.ones(2))],
    *[(lambda v=v: IP.grad_F(W, v), ("alpha",)) for v in (0.0, -0.5)],
    *[(lambda v=v: IP.F_grads(W, v), ("alpha",)) for v in (0, np.nan)],
    *[(lambda v=v: IP.F(v, 0.1), ("w",)) for v in (None, np.ones(2), np.full(3, np.nan), np.ones((3, 1)), "abc")],
    *[(lambda v=v: IP.grad_F(W, 0.1, v), ("order",)) for v in ("hessian_free", None, np.ones(2), "EXACT")],
    (lambda: IP.hvp_F(W, np.ones(2), 0.1), ("v",)), (lambda: IP.hvp_F(W, np.full(3, np.nan), 0.1), ("v",)),
    (lambda: IP.sample(0, np.random.default_rng(0)), ("batch_size",)), (lambda: IP.sample(2, "rng"), ("rng",)),
    (lambda: IP.F(np.full(3, 1e200), 0.1), ("w", "alpha", "not finite")),
])
def test_implicit_pool_refuses_bad_input_by_name(call, names):
    _clear(call, names)

def test_a_non_smooth_loss_is_refused_quickly_with_the_fix():
    r = np.random.default_rng(5); M, d = 4, 3
    X, y = r.normal(size=(M, 15, d)), np.sign(r.normal(size=(M, 15)))
    hp = ImplicitPool(KStepPool(hinge_loss, X, y))
    t, w = time.process_time(), r.normal(size=d)
    e = _clear(lambda: hp.grad_F(w, 0.5), ("inner_tol",))
    assert "smooth" in str(e) and time.process_time() - t < 10
    e = _clear(lambda: imaml_grad(hp.pool, w, 2.0), ("inner_tol",))
    assert "smooth" in str(e)
    e = _clear(lambda: ImplicitPool(KP, max_inner=3).F(W, 0.2), ("max_inner",))  # a budget too small: named, with the fix
    assert "inner_tol" in str(e)

@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(alpha=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.sampled_from([None, "a", True, np.ones(2)])),
       scale=st.floats(-1e3, 1e3), order=st.sampled_from(["exact", "first", "bad"]))
def test_implicit_pool_fuzz(alpha, scale, order):
    "Any alpha, any w scale, any order: a finite answer consistent with F_grads, or a clear error by name."
    w = W * scale
    def call():
        g = IP.grad_F(w, alpha, order)
        assert np.all(np.isfinite(g)) and g.shape == (3,)
        if order == "exact": assert np.array_equal(g, IP.F_grads(w, alpha)[1])
    try: call()
    except AssertionError: raise
    except Exception: _clear(call, ("alpha", "order", "w", "inner_tol", "max_inner", "not finite"))
