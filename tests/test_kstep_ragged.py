"K-step pools on tasks of unequal sizes: every oracle against per-task loops, the paper's Diabetes pool, bad ragged input."
import numpy as np
import pytest
from autograd import grad, hessian
from hypothesis import given, settings, strategies as st

from bimaml_nb import data
from bimaml_nb.kstep import KStepPool, MLP, model_loss, unrolled_F, adapt, TaskDistribution
from bimaml_nb.oracles import squared_loss


def rel(x, z):
    x, z = np.asarray(x, dtype=float), np.asarray(z, dtype=float)
    return float(np.max(np.abs(x - z)) / max(np.max(np.abs(z)), 1e-300))


def loops(Xs, ys, Xq, yq, w, a, K, p):
    "Least squares ½·mean, one task at a time with its own n_i: F_K, ∇F_K, ∇²F_K, f, ∇f, ∇²f, U^K (an independent computation)."
    d = len(w); F, gF, HF, f, gf, Hf, U = 0.0, np.zeros(d), np.zeros((d, d)), 0.0, np.zeros(d), np.zeros((d, d)), []
    for Xi, yi, Xqi, yqi, pi in zip(Xs, ys, Xq, yq, p):
        H, Hq = Xi.T @ Xi / len(yi), Xqi.T @ Xqi / len(yqi)
        u, A = w.copy(), np.eye(d)
        for _ in range(K): u = u - a * Xi.T @ (Xi @ u - yi) / len(yi); A = A @ (np.eye(d) - a * H)
        F += pi * 0.5 * np.mean((Xqi @ u - yqi) ** 2); gF += pi * A @ (Xqi.T @ (Xqi @ u - yqi) / len(yqi)); HF += pi * A @ Hq @ A
        f += pi * 0.5 * np.mean((Xi @ w - yi) ** 2); gf += pi * Xi.T @ (Xi @ w - yi) / len(yi); Hf += pi * H
        U.append(u)
    return F, gF, HF, f, gf, Hf, np.array(U)


def ragged(rng, sizes, d):
    return [rng.normal(size=(n, d)) for n in sizes], [rng.normal(size=n) for n in sizes]


@pytest.fixture(scope="module")
def dia(): return data.diabetes()


def test_diabetes_k1_is_the_papers_pool(dia):
    "Catches weights 1/n_max (padding counted as samples), a dropped ω in any oracle path, or the wrong loss scale."
    n = max(len(v) for v in dia.y)
    kp = KStepPool(data.regression_loss("mean", n), dia.X, dia.y, p=dia.pool.p)
    w, a, tp = dia.w0, dia.alpha, dia.pool
    assert kp.ragged == (True, True) and kp._ns.tolist() == [125, 110, 77, 130] == dia.choices["task_sizes"]
    assert rel(kp.F(w, a), tp.F(w, a)) < 1e-12 and rel(kp.f(w), tp.f(w)) < 1e-12 and rel(kp.grad_f(w), tp.grad_f(w)) < 1e-12
    for order in ("exact", "first"): assert rel(kp.grad_F(w, a, order), tp.grad_F(w, a, order)) < 1e-12
    assert rel(kp.grad_F(w, a, "hessian_free"), tp.grad_F(w, a, "hessian_free")) < 1e-9  # rounding / δ
    for x, z in zip(kp.F_grads(w, a), tp.F_grads(w, a)): assert rel(x, z) < 1e-12
    assert rel(kp.hess_F(w, a), tp.hess_F(w, a)) < 1e-9 and rel(kp.hess_f(w), tp.hess_f(w)) < 1e-9
    assert rel(kp.task_grads(w), tp.task_grads(w)) < 1e-12
    # the literal "sum" scaling: every task scaled by the same 2·n_max, as the paper's pool does
    ex = data.diabetes(loss_scaling="sum")
    ks = KStepPool(data.regression_loss("sum", n), ex.X, ex.y)
    assert rel(ks.F(ex.w0, ex.alpha), ex.pool.F(ex.w0, ex.alpha)) < 1e-12 and rel(ks.grad_F(ex.w0, ex.alpha), ex.pool.grad_F(ex.w0, ex.alpha)) < 1e-12


def test_k3_ragged_split_equals_per_task_loops(dia):
    "Every oracle of a K = 3 pool with ragged support AND query data against closed-form per-task loops (catches a query side read with the support's weights, ω missing in hvp_F/hess_F's autograd path, in adapt or adapted_losses)."
    r = np.random.default_rng(0); Xq, yq = ragged(r, (40, 13, 91, 7), 8)
    p = r.dirichlet(np.ones(4)); w, a, K = dia.w0, 0.3, 3
    kp = KStepPool(squared_loss, dia.X, dia.y, Xq, yq, K=K, p=p)
    F, gF, HF, f, gf, Hf, U = loops(dia.X, dia.y, Xq, yq, w, a, K, p)
    assert rel(kp.F(w, a), F) < 1e-12 and rel(kp.grad_F(w, a), gF) < 1e-12 and rel(kp.hess_F(w, a), HF) < 1e-12
    v = r.normal(size=8)
    assert rel(kp.hvp_F(w, v, a), HF @ v) < 1e-12 and rel(kp.hvp_f(w, v), Hf @ v) < 1e-12
    assert rel(kp.f(w), f) < 1e-12 and rel(kp.grad_f(w), gf) < 1e-12 and rel(kp.hess_f(w), Hf) < 1e-12
    for x, z in zip(kp.F_grads(w, a), (F, gF, gf)): assert rel(x, z) < 1e-12
    assert rel(adapt(kp, w, a, K), U) < 1e-12
    fq = [0.5 * np.mean((Xi @ u - yi) ** 2) for Xi, yi, u in zip(Xq, yq, U)]
    assert rel(kp.adapted_losses(w, a, K)[K], fq) < 1e-12
    assert rel(unrolled_F(kp, a)(w), F) < 1e-12 and rel(grad(unrolled_F(kp, a))(w), gF) < 1e-12
    # first order: the query gradients at U^K, no Hessian factors
    g1 = sum(pi * Xi.T @ (Xi @ u - yi) / len(yi) for Xi, yi, u, pi in zip(Xq, yq, U, p))
    assert rel(kp.grad_F(w, a, "first"), g1) < 1e-12


def spoil_padding(pool, value):
    "Write a huge value into every padded row of the pool's arrays, in place (its weights are 0)."
    for X, y, n in ((pool.X, pool.y, pool._ns), (pool.Xq, pool.yq, pool._nq)):
        for i, ni in enumerate(n): X[i, ni:], y[i, ni:] = value, -value
    if pool.fast is not None:
        for Xa, n in ((pool._Xa, pool._ns), (pool._Xqa, pool._nq)):
            for i, ni in enumerate(n): Xa[i, ni:, :-1] = value


@pytest.mark.parametrize("fast", [True, False])
def test_padding_is_weight_zero(fast):
    "Huge values in the padding change no oracle's value (catches a padded sample counted anywhere, e.g. in the engine's R-pass)."
    # ReLU: finite for any finite input (tanh's autograd second derivatives overflow cosh beyond |z| ≈ 710, and 0·NaN is NaN)
    r = np.random.default_rng(1); net = MLP((2, 5, 1), "relu")
    (X, y), (Xq, yq) = ragged(r, (2, 6, 4), 2), ragged(r, (5, 1, 3), 2)
    pool = KStepPool(model_loss(net, fast=fast), X, y, Xq, yq, K=2)
    w, v, V = net.init(r), r.normal(size=net.n_params), r.normal(size=(3, net.n_params))
    def all_oracles():
        return [pool.F(w, 0.1), *pool.F_grads(w, 0.1), pool.grad_F(w, 0.1, "first"), pool.grad_F(w, 0.1, "hessian_free"),
                pool.f(w), pool.task_grads(w), pool.task_hvps(w, V), pool.hvp_f(w, v), pool.hvp_F(w, v, 0.1),
                pool.adapted_losses(w, 0.1, 2)]
    before = all_oracles(); spoil_padding(pool, 1e6); after = all_oracles()
    for x, z in zip(after, before): np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_mlp_engine_takes_sample_weights(act):
    "The closed-form engine on ragged data equals autograd's path and a per-task unrolled loop (catches the engine's 1/n kept in _loss or _hvp)."
    r = np.random.default_rng(2); net = MLP((3, 6, 4, 1), act)
    (X, y), (Xq, yq) = ragged(r, (4, 11, 1, 7), 3), ragged(r, (3, 2, 9, 5), 3)
    fp, sp = (KStepPool(model_loss(net, fast=f), X, y, Xq, yq, K=3, p=[0.1, 0.2, 0.3, 0.4]) for f in (True, False))
    assert fp.fast is not None and sp.fast is None
    w, V = net.init(r), r.normal(size=(4, net.n_params))
    for x, z in zip(fp.F_grads(w, 0.05), sp.F_grads(w, 0.05)): assert rel(x, z) < 1e-12
    assert rel(fp.grad_F(w, 0.05, "first"), sp.grad_F(w, 0.05, "first")) < 1e-12
    assert rel(fp.task_hvps(w, V), sp.task_hvps(w, V)) < 1e-11
    assert rel(fp.f(w), sp.f(w)) < 1e-12 and rel(fp.task_grads(w), sp.task_grads(w)) < 1e-12
    assert rel(fp.F(w, 0.05), unrolled_F(sp, 0.05)(w)) < 1e-12 and rel(fp.grad_F(w, 0.05), grad(unrolled_F(sp, 0.05))(w)) < 1e-11


def test_dense_and_equal_lists_agree():
    "Equal-size lists (padded with no padding) give the dense pool's numbers: the weighted engine path reduces to the 1/n path."
    r = np.random.default_rng(3); net = MLP((2, 4, 1), "relu")
    X, y = r.normal(size=(3, 5, 2)), r.normal(size=(3, 5))
    dense, lists = KStepPool(model_loss(net), X, y, K=2), KStepPool(model_loss(net), list(X), list(y), K=2)
    assert dense.ragged == (False, False) and lists.ragged == (True, True) and dense._os is None and lists._os is not None
    w = net.init(r)
    for x, z in zip(lists.F_grads(w, 0.1), dense.F_grads(w, 0.1)): assert rel(x, z) < 1e-14
    lin_d, lin_l = KStepPool(squared_loss, X, y, K=2), KStepPool(squared_loss, list(X), list(y), K=2)
    np.testing.assert_array_equal(lin_l.hess_F(np.ones(2), 0.1), lin_d.hess_F(np.ones(2), 0.1))  # autograd path: the same ω = 1/n


def test_subset_and_sample_keep_each_tasks_samples(dia):
    "A drawn task keeps its own n_i (catches subset passing the padded arrays, which would make them tasks of n_max samples)."
    kp = KStepPool(squared_loss, dia.X, dia.y, K=2)
    idx = [2, 2, 0, 3]; sub = kp.subset(np.array(idx))
    assert sub._ns.tolist() == [77, 77, 125, 130] and sub.counter is not kp.counter
    F, gF, *_ = loops([dia.X[j] for j in idx], [dia.y[j] for j in idx], [dia.X[j] for j in idx], [dia.y[j] for j in idx],
                      dia.w0, 0.3, 2, np.full(4, 0.25))
    assert rel(sub.F(dia.w0, 0.3), F) < 1e-12 and rel(sub.grad_F(dia.w0, 0.3), gF) < 1e-12
    b = kp.sample(6, np.random.default_rng(0))
    assert b.counter is kp.counter and all(n == len(dia.y[0]) or n in (110, 77, 130) for n in b._ns)
    assert sorted(set(b._ns.tolist())) <= sorted(set(kp._ns.tolist()))


def test_task_distribution_with_ragged_draws():
    "A draw that returns lists of tasks of different sizes makes ragged pools (freeze counted tasks by np.shape before)."
    def draw(n, rng):
        sizes = rng.integers(1, 6, size=n)
        X = [rng.normal(size=(m, 2)) for m in sizes]; y = [x @ np.ones(2) for x in X]
        return X, y, X, y
    dist = TaskDistribution(draw, squared_loss, K=2, n_eval=5)
    pool = dist.freeze(4, np.random.default_rng(0))
    assert pool.ragged == (True, True) and pool.M == 4
    F, gF, *_ = loops(*[[pool.X[i, :n] for i, n in enumerate(pool._ns)], [pool.y[i, :n] for i, n in enumerate(pool._ns)]] * 2,
                      np.zeros(2), 0.1, 2, np.full(4, 0.25))
    assert rel(pool.F(np.zeros(2), 0.1), F) < 1e-12 and rel(pool.grad_F(np.zeros(2), 0.1), gF) < 1e-12
    with pytest.raises(ValueError, match=r"n = 3 tasks in every array's first axis \(or lists of n tasks\); it returned \[3, 3, 2, 3\]"):
        TaskDistribution(lambda n, rng: (lambda d: (d[0], d[1], d[2][:-1], d[3]))(draw(n, rng)), squared_loss, n_eval=3)


# --- bad ragged input: clear errors naming the argument, never a foreign exception ---
Xl, yl = [np.zeros((3, 2)), np.ones((4, 2))], [np.zeros(3), np.ones(4)]
BAD = [
    (lambda: KStepPool(squared_loss, Xl, yl[:1]), ValueError, "X has 2 tasks but y has 1"),
    (lambda: KStepPool(squared_loss, [], []), ValueError, "the pool is empty"),
    (lambda: KStepPool(squared_loss, [Xl[0], np.zeros((0, 2))], [yl[0], np.zeros(0)]), ValueError, r"X\[1\] must have shape \(n_i, d=2\) .* n_i >= 1"),
    (lambda: KStepPool(squared_loss, [Xl[0], np.zeros((4, 3))], yl), ValueError, r"X\[1\] must have shape \(n_i, d=2\)"),
    (lambda: KStepPool(squared_loss, [Xl[0], np.zeros(4)], yl), ValueError, r"X\[1\] must have shape \(n_i, d=2\)"),
    (lambda: KStepPool(squared_loss, Xl, [yl[0], np.zeros(5)]), ValueError, r"y\[1\] shape \(n_i,\)"),
    (lambda: KStepPool(squared_loss, [Xl[0], np.full((4, 2), np.nan)], yl), ValueError, r"X \(task 1\) contains NaN or inf"),
    (lambda: KStepPool(squared_loss, Xl, [yl[0], np.array([0, np.inf, 0, 0])]), ValueError, r"y \(task 1\) contains NaN or inf"),
    (lambda: KStepPool(squared_loss, [Xl[0], np.array([["a", "b"]] * 4)], yl), TypeError, r"X \(task 1\) must hold real numbers"),
    (lambda: KStepPool(squared_loss, Xl, np.zeros((2, 4))), TypeError, "X, y must both be arrays .* or both lists"),
    (lambda: KStepPool(squared_loss, np.zeros((2, 4, 2)), yl), TypeError, "X, y must both be arrays .* or both lists"),
    (lambda: KStepPool(squared_loss, 5, 3), TypeError, "got int and int"),
    (lambda: KStepPool(squared_loss, Xl, yl, [np.zeros((2, 2))] * 3, [np.zeros(2)] * 3), ValueError, "Xq must hold the same tasks .* 2 tasks of width 2; got 3 tasks"),
    (lambda: KStepPool(squared_loss, Xl, yl, [np.zeros((2, 3))] * 2, [np.zeros(2)] * 2), ValueError, "Xq must hold the same tasks .* got 2 tasks of width 3"),
    (lambda: KStepPool(squared_loss, Xl, yl, Xl, [np.zeros(3)] * 2), ValueError, r"Xq\[1\] must have shape \(n_i, d=2\) and yq\[1\]"),
    (lambda: KStepPool(squared_loss, Xl, yl, Xl, yl[:1]), ValueError, "Xq has 2 tasks but yq has 1"),
    (lambda: KStepPool(squared_loss, Xl, yl, [Xl[0], np.full((4, 2), np.nan)], yl), ValueError, r"Xq \(task 1\) contains NaN"),
    (lambda: KStepPool(squared_loss, Xl, yl, Xl, np.zeros((2, 4))), TypeError, "Xq, yq must both be arrays"),
    (lambda: KStepPool(model_loss(MLP((3, 2, 1))), Xl, yl), ValueError, "loss\\(W, X, y\\) must return one loss per sample"),
]

@pytest.mark.parametrize("call, exc, msg", BAD)
def test_bad_ragged_input(call, exc, msg):
    with pytest.raises(exc, match=msg): call()


# --- property: random ragged sizes against per-task loops ---
@settings(max_examples=40)
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=5), qsizes=st.lists(st.integers(1, 9), min_size=5, max_size=5),
       d=st.integers(1, 4), K=st.integers(1, 3), alpha=st.floats(0.0, 0.3), seed=st.integers(0, 2**16), split=st.booleans())
def test_random_ragged_pools_equal_per_task_loops(sizes, qsizes, d, K, alpha, seed, split):
    r = np.random.default_rng(seed); M = len(sizes)
    X, y = ragged(r, sizes, d); Xq, yq = ragged(r, qsizes[:M], d) if split else (X, y)
    p = r.dirichlet(np.ones(M)); w = r.normal(size=d)
    kp = KStepPool(squared_loss, X, y, *((Xq, yq) if split else ()), K=K, p=p)
    F, gF, HF, f, gf, Hf, U = loops(X, y, Xq, yq, w, alpha, K, p)
    scale = max(1.0, abs(F))
    assert abs(kp.F(w, alpha) - F) <= 1e-11 * scale
    np.testing.assert_allclose(kp.grad_F(w, alpha), gF, rtol=1e-10, atol=1e-11 * max(1.0, np.abs(gF).max()))
    np.testing.assert_allclose(kp.hess_F(w, alpha), HF, rtol=1e-10, atol=1e-11 * max(1.0, np.abs(HF).max()))
    np.testing.assert_allclose(kp.grad_f(w), gf, rtol=1e-10, atol=1e-11 * max(1.0, np.abs(gf).max()))
    np.testing.assert_allclose(adapt(kp, w, alpha, K), U, rtol=1e-10, atol=1e-11 * max(1.0, np.abs(U).max()))


# --- kstep_pool: the paper's data experiments as K-step pools ---
from bimaml_nb.kstep import kstep_pool
import dataclasses

CASES = [("synthetic_regression", {}), ("synthetic_regression", dict(loss_scaling="sum", n=30, M=4)), ("diabetes", {}),
         ("diabetes", dict(loss_scaling="sum")), ("synthetic_svm", {}), ("synthetic_svm", dict(loss="logistic", l2=0.1, M=6)),
         ("synthetic_svm", dict(loss="squared_hinge", l2=0.0, M=6)), ("mnist_svm", {})]

@pytest.mark.parametrize("name, choices", CASES)
def test_kstep_pool_is_the_experiments_pool(name, choices):
    "K = 1: F and ∇F equal ex.pool's (catches a wrong loss scale n, a dropped l2 or loss choice)."
    ex = data.EXPERIMENTS[name](**choices)
    kp = kstep_pool(ex)
    assert kp.K == 1 and kp.M == ex.pool.M and kp.d == ex.pool.d and np.array_equal(kp.p, ex.pool.p)
    assert rel(kp.F(ex.w0, ex.alpha), ex.pool.F(ex.w0, ex.alpha)) < 1e-12
    assert rel(kp.grad_F(ex.w0, ex.alpha), ex.pool.grad_F(ex.w0, ex.alpha)) < 1e-12


def test_kstep_pool_keeps_the_task_distribution(dia):
    "A pool with non-uniform task weights: kstep_pool takes ex.pool.p (catches a uniform p)."
    from bimaml_nb.oracles import TaskPool
    q = np.array([0.1, 0.2, 0.3, 0.4])
    ex = dataclasses.replace(dia, pool=TaskPool.from_data(squared_loss, dia.X, dia.y, p=q))
    kp = kstep_pool(ex)
    assert np.array_equal(kp.p, q) and rel(kp.grad_F(ex.w0, ex.alpha), ex.pool.grad_F(ex.w0, ex.alpha)) < 1e-12
    assert rel(kp.grad_F(ex.w0, ex.alpha), dia.pool.grad_F(ex.w0, ex.alpha)) > 1e-3


def test_kstep_pool_k3_diabetes_sum_scaling(dia):
    "K = 3 under the paper's literal sum: every task scaled by 2·n_max = 260, against per-task loops."
    ex = data.diabetes(loss_scaling="sum"); kp = kstep_pool(ex, K=3)
    c = 2.0 * max(len(v) for v in ex.y); a = ex.alpha / 50
    F, gF, *_ = loops([np.sqrt(c) * X for X in ex.X], [np.sqrt(c) * y for y in ex.y], [np.sqrt(c) * X for X in ex.X],
                      [np.sqrt(c) * y for y in ex.y], ex.w0, a, 3, np.full(4, 0.25))  # c·½(x·w − y)² = ½(√c x·w − √c y)²
    assert rel(kp.F(ex.w0, a), F) < 1e-12 and rel(kp.grad_F(ex.w0, a), gF) < 1e-12


def test_kstep_pool_bad_input(dia):
    with pytest.raises(TypeError, match="ex must be an Experiment of bimaml_nb.data"): kstep_pool(dia.pool)
    with pytest.raises(TypeError, match="ex must be an Experiment"): kstep_pool("diabetes")
    with pytest.raises(ValueError, match="'fig1' is a pool of functions: use ex.pool"): kstep_pool(data.fig1_pair())
    with pytest.raises(ValueError, match="K must be an integer >= 1"): kstep_pool(dia, K=0)
    with pytest.raises(TypeError, match="K must be an integer >= 1"): kstep_pool(dia, K=1.5)
    lit = data.synthetic_svm(M=2, n=10, loss="literal")  # no prediction engine: the loss comes from ex.choices
    with pytest.raises(ValueError, match="missing 'l2'"): kstep_pool(dataclasses.replace(lit, choices=dict(loss="literal")))
    with pytest.raises(ValueError, match="ex must be one of the experiments"): kstep_pool(dataclasses.replace(lit, name="sinusoid"))
    with pytest.raises(ValueError, match="loss must be one of"): kstep_pool(dataclasses.replace(lit, choices=dict(loss="max", l2=0.0)))


@pytest.mark.parametrize("model", ["squared_hinge", "hinge_ridge"])
def test_kstep_pool_of_a_variant_has_the_variants_loss(model):
    "experiments.variant changes the pool's loss but not ex.choices: the K-step pool must follow the pool (catches a loss read from choices)."
    from bimaml_nb.experiments import primary, variant
    ex = variant(primary("synthetic_svm"), model)
    assert rel(kstep_pool(ex).F(ex.w0, ex.alpha), ex.pool.F(ex.w0, ex.alpha)) < 1e-12
    lit = data.synthetic_svm(M=3, n=20, loss="literal")
    assert rel(kstep_pool(lit).F(lit.w0, lit.alpha), lit.pool.F(lit.w0, lit.alpha)) < 1e-12


def test_flow_runs_on_diabetes(dia):
    "The continuous inner loop on the ragged Diabetes pool: F_T and ∇F_T against the matrix exponential per task with its own n_i (catches padding counted by the flow's vector field)."
    from scipy.linalg import expm
    from bimaml_nb.flow import FlowPool
    fp = FlowPool(kstep_pool(dia)); w, T = dia.w0, 0.4
    F, g = 0.0, np.zeros(8)
    for X, y, pi in zip(dia.X, dia.y, dia.pool.p):
        H, b = X.T @ X / len(y), X.T @ y / len(y); E = expm(-T * H)
        u = E @ w + (np.eye(8) - E) @ np.linalg.solve(H, b)  # u' = −(Hu − b)
        F += pi * 0.5 * np.mean((X @ u - y) ** 2); g += pi * E @ (H @ u - b)
    assert rel(fp.F(w, T), F) < 1e-8 and rel(fp.grad_F(w, T), g) < 1e-8


# --- fuzz: arbitrary ragged input gives a clear error naming the argument, never a foreign exception ---
task = st.one_of(st.integers(0, 4).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, 3))),  # (n_i, width)
                 st.just(None))
@settings(max_examples=150)
@given(tasks=st.lists(task, max_size=4), ytasks=st.lists(st.integers(0, 4), max_size=4), bad=st.sampled_from([None, "nan", "inf", "str", "3d"]),
       seed=st.integers(0, 100), query=st.booleans())
def test_fuzz_ragged_input(tasks, ytasks, bad, seed, query):
    r = np.random.default_rng(seed)
    X = [r.normal(size=t) if t is not None else "oops" for t in tasks]
    y = [r.normal(size=n) for n in ytasks]
    if X and bad is not None:
        j = r.integers(len(X)); a = np.asarray(X[j]) if not isinstance(X[j], str) else np.zeros((1, 1))
        X[j] = {"nan": np.full(a.shape, np.nan), "inf": np.full(a.shape, np.inf), "str": np.full(a.shape, "a"), "3d": np.zeros((2, 2, 2))}[bad]
    good_X, good_y = [np.zeros((2, 2)), np.ones((3, 2))], [np.zeros(2), np.ones(3)]
    args = (good_X, good_y, X, y) if query else (X, y)
    names = ("Xq", "yq") if query else ("X", "y")
    try: pool = KStepPool(squared_loss, *args)
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert any(n in msg for n in names) or "pool is empty" in msg or "loss(W, X, y)" in msg, msg
        return
    # accepted: then it is a valid ragged pool whose f is each task's own mean
    Xs, ys = (X, y)
    w = r.normal(size=pool.d)
    f = np.mean([0.5 * np.mean((np.asarray(Xi) @ w - yi) ** 2) for Xi, yi in zip(Xs, ys)]) if not query else None
    if f is not None: assert rel(pool.f(w), f) < 1e-12
