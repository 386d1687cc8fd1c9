"""K-step MAML pools: equality with TaskPool at K = 1, meta-gradients against autograd and central differences,
memory, reproducible sampled runs, and input errors."""
import tracemalloc
import numpy as np
import pytest
from autograd import grad
from bimaml_nb.oracles import TaskPool, squared_loss, logistic_loss, central_difference, HVP_COST
from bimaml_nb.kstep import KStepPool, MLP, model_loss, unrolled_F, TaskDistribution


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("loss", [squared_loss, logistic_loss(0.05)])
def test_k1_without_split_is_taskpool(seed, loss):
    r = np.random.default_rng(seed); M, n, d = 5, 6, 4
    X, y = r.normal(size=(M, n, d)), r.normal(size=(M, n))
    if loss is not squared_loss: y = np.sign(y)
    p, w, a = r.dirichlet(np.ones(M)), r.normal(size=d), r.uniform(0, 0.4)
    kp, tp = KStepPool(loss, X, y, p=p), TaskPool.from_data(loss, X, y, p=p)
    np.testing.assert_allclose(kp.F(w, a), tp.F(w, a), rtol=1e-12)
    np.testing.assert_allclose(kp.f(w), tp.f(w), rtol=1e-12)
    for order in ("exact", "first"):
        np.testing.assert_allclose(kp.grad_F(w, a, order), tp.grad_F(w, a, order), rtol=1e-12, atol=1e-15)
    # central differences divide the gradients' rounding errors by delta = 1e-5
    np.testing.assert_allclose(kp.grad_F(w, a, "hessian_free"), tp.grad_F(w, a, "hessian_free"), rtol=1e-9, atol=1e-12)
    for x, z in zip(kp.F_grads(w, a), tp.F_grads(w, a)): np.testing.assert_allclose(x, z, rtol=1e-12, atol=1e-15)
    v = r.normal(size=d)
    np.testing.assert_allclose(kp.hvp_F(w, v, a), tp.hvp_F(w, v, a), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kp.hvp_f(w, v), tp.hvp_f(w, v), rtol=1e-12, atol=1e-15)
    assert kp.counter.snapshot() == tp.counter.snapshot()


def _mlp_pool(K, act, seed, M=3):
    r = np.random.default_rng(seed); net = MLP((1, 6, 6, 1), act)
    pool = KStepPool(model_loss(net), r.uniform(-5, 5, (M, 5, 1)), r.normal(size=(M, 5)),
                     r.uniform(-5, 5, (M, 7, 1)), r.normal(size=(M, 7)), K=K, p=r.dirichlet(np.ones(M)))
    return pool, net.init(r)

def _linear_pool(K, seed, M=3, d=4):
    r = np.random.default_rng(seed)
    pool = KStepPool(squared_loss, r.normal(size=(M, 5, d)), r.normal(size=(M, 5)), r.normal(size=(M, 8, d)),
                     r.normal(size=(M, 8)), K=K, p=r.dirichlet(np.ones(M)))
    return pool, r.normal(size=d)

@pytest.mark.parametrize("K", [1, 2, 5])
@pytest.mark.parametrize("kind", ["linear", "tanh", "relu"])
def test_meta_gradient_is_the_unrolled_derivative(K, kind):
    pool, w = _linear_pool(K, K) if kind == "linear" else _mlp_pool(K, kind, K)
    alpha = 0.1 if kind == "linear" else 0.01
    g = pool.grad_F(w, alpha)
    ref = unrolled_F(pool, alpha)
    np.testing.assert_allclose(pool.F(w, alpha), ref(w), rtol=1e-12)
    np.testing.assert_allclose(g, grad(ref)(w), rtol=1e-10, atol=1e-12 * np.linalg.norm(g))
    u = np.random.default_rng(K + 100).normal(size=pool.d)
    np.testing.assert_allclose(central_difference(lambda v: pool.F(v, alpha), w, u), g @ u, rtol=1e-5)
    F, gF, gf = pool.F_grads(w, alpha)
    np.testing.assert_allclose(gF, g, rtol=1e-14); np.testing.assert_allclose(F, ref(w), rtol=1e-12)
    np.testing.assert_allclose(gf, pool.grad_f(w), rtol=1e-14)
    np.testing.assert_allclose(pool.grad_F(w, alpha, "hessian_free"), g, rtol=1e-5, atol=1e-7 * np.linalg.norm(g))


def test_costs_of_each_order():
    K = 3; pool, w = _linear_pool(K, 0)
    for order, cost in (("exact", K + 1 + HVP_COST * K), ("first", K + 1), ("hessian_free", 3 * K + 1)):
        s = pool.counter.snapshot(); pool.grad_F(w, 0.1, order)
        assert pool.counter.cost_since(s) == cost
    with pool.uncounted(): s = pool.counter.snapshot(); pool.F_grads(w, 0.1)
    assert pool.counter.cost_since(s) == 0


def test_no_dxd_array_at_ten_thousand_parameters():
    net = MLP((1, 100, 100, 1)); r = np.random.default_rng(0)
    pool = KStepPool(model_loss(net), r.uniform(-5, 5, (4, 10, 1)), r.normal(size=(4, 10)), K=5)
    w = net.init(r)
    tracemalloc.start(); g = pool.grad_F(w, 0.01); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    assert net.n_params == 10_401 and peak < 8 * net.n_params ** 2 / 50
    assert np.all(np.isfinite(g))


def _draw(n, rng, d=3):
    c = rng.normal(size=(n, d)); X, Xq = rng.normal(size=(n, 5, d)), rng.normal(size=(n, 10, d))
    return X, np.einsum('mnd,md->mn', X, c), Xq, np.einsum('mnd,md->mn', Xq, c)

def test_sampled_runs_repeat_bit_for_bit():
    dist = TaskDistribution(_draw, squared_loss, K=2, n_eval=10)
    def run(seed):
        rng, w = np.random.default_rng(seed), np.zeros(3)
        for _ in range(10): w = w - 0.05 * dist.sample(4, rng).grad_F(w, 0.1)
        return w
    assert np.array_equal(run(3), run(3)) and not np.array_equal(run(3), run(4))
    a, b = dist.freeze(6, np.random.default_rng(1)), dist.freeze(6, np.random.default_rng(1))
    assert np.array_equal(a.Xq, b.Xq) and a.counter is not b.counter


def test_distribution_answers_on_its_evaluation_pool():
    dist = TaskDistribution(_draw, squared_loss, K=2, n_eval=10, eval_seed=5)
    w = np.ones(3)
    with dist.uncounted():
        F, gF, gf = dist.F_grads(w, 0.1)
    assert dist.counter.cost == 0
    np.testing.assert_allclose(F, dist.eval_pool.F(w, 0.1), rtol=0)
    B = dist.sample(5, np.random.default_rng(0)); s = dist.counter.snapshot(); B.grad_f(w)
    assert B.counter is dist.counter and dist.counter.cost_since(s) == 5 / 10


def test_bad_input_names_the_argument():
    net = MLP((1, 6, 6, 1)); X, y = np.zeros((2, 3, 1)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="K must be an integer >= 1"): KStepPool(model_loss(net), X, y, K=0)
    with pytest.raises(ValueError, match="Xq must have shape"): KStepPool(model_loss(net), X, y, X, y[:, :2])
    with pytest.raises(ValueError, match="Xq must hold the same tasks"): KStepPool(model_loss(net), X, y, np.zeros((3, 3, 1)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="Xq and yq must be given together"): KStepPool(model_loss(net), X, y, X, None)
    with pytest.raises(ValueError, match="dim=10 disagrees with the model's parameter count"): KStepPool(model_loss(net), X, y, dim=10)
    pool = KStepPool(model_loss(net), X, y)
    with pytest.raises(ValueError, match=r"w0 must have shape \(61,\)"): pool.check_w(np.zeros(10), "w0")
    with pytest.raises(ValueError, match="w has 10 entries but MLP"): net(np.zeros(10), X[0])
    with pytest.raises(ValueError, match="sizes must list"): MLP((1, 40, 2))
    with pytest.raises(ValueError, match="activation must be one of"): MLP((1, 4, 1), "gelu")


def test_algorithms_accept_a_distribution_and_repeat():
    from bimaml_nb.algorithms import maml
    dist = TaskDistribution(_draw, squared_loss, K=2, n_eval=10)
    runs = [maml(dist, np.zeros(3), 0.1, 0.05, max_iter=10, batch_size=4, rng=np.random.default_rng(0)) for _ in range(2)]
    assert np.array_equal(runs[0].iterates, runs[1].iterates) and np.array_equal(runs[0].F, runs[1].F)


def test_sinusoid_quick_run_is_within_budget_and_repeats():
    from bimaml_nb.sinusoid import run_sinusoid, summarise_sinusoid, draw_sinusoid
    a, b = run_sinusoid(seeds=(3,), quick=True), run_sinusoid(seeds=(3,), quick=True)
    assert a["runs"] == b["runs"]
    assert all(r["cost"] <= a["settings"]["budget"] and len(r["mse"]) == 11 for r in a["runs"])
    rows = summarise_sinusoid(a)
    assert {r["method"] for r in rows} >= {"MAML", "FO-MAML", "BI-MAML (auto ε₀)", "PTC (frozen)"}
    X, y, Xq, yq = draw_sinusoid(200, np.random.default_rng(0), shots=5, query=7)
    assert X.shape == (200, 5, 1) and yq.shape == (200, 7) and np.abs(y).max() <= 5.0

def test_sinusoid_benchmark_constants_are_finn_et_als():
    "Finn et al. 2017, §5.1: amplitude in [0.1, 5.0], phase in [0, π], x uniform in [−5.0, 5.0]; a 1-40-40-1 ReLU network."
    from bimaml_nb import sinusoid as S
    assert (S.AMPLITUDE, S.PHASE, S.INPUT) == ((0.1, 5.0), (0.0, np.pi), (-5.0, 5.0))
    X, y, Xq, yq = S.draw_sinusoid(4000, np.random.default_rng(0), shots=5, query=7)
    assert X.shape == (4000, 5, 1) and y.shape == (4000, 5) and Xq.shape == (4000, 7, 1) and yq.shape == (4000, 7)
    x = np.concatenate([X[..., 0], Xq[..., 0]], 1); Y = np.concatenate([y, yq], 1)
    assert -5.0 <= x.min() < -4.99 and 4.99 < x.max() <= 5.0
    amp = np.abs(Y).max(1)  # ≤ A, and close to it with 12 points: the amplitudes reach up to 5 and never above
    assert amp.max() <= 5.0 and amp.max() > 4.9 and np.quantile(amp, 0.02) < 0.5
    rng = np.random.default_rng(1); A, phi = rng.uniform(0.1, 5.0, 3), rng.uniform(0, np.pi, 3)  # the same draws by hand
    x2 = rng.uniform(-5, 5, (3, 4, 1))
    np.testing.assert_array_equal(S.draw_sinusoid(3, np.random.default_rng(1), 2, 2)[1], (A[:, None] * np.sin(x2[..., 0] - phi[:, None]))[:, :2])
    from bimaml_nb.kstep import MLP
    net = MLP((1, 40, 40, 1), "relu"); assert net.n_params == 1761
    w = net.init(np.random.default_rng(0))
    assert np.abs(w[:80]).max() <= 1.0 and np.abs(w[80:80 + 1640]).max() <= 1 / np.sqrt(40)  # U(±1/√n_in) per layer

def test_finn_protocol_constants_and_runs():
    "cbfinn/maml main.py: 70,000 meta-iterations, meta-batch 25, Adam 1e-3, one inner step of 0.01; 600 held-out tasks, 0-10 steps."
    from bimaml_nb import sinusoid as S
    from bimaml_nb.algorithms import Adam
    assert S.FINN == dict(iterations=70_000, batch_size=25, beta=1e-3, alpha=0.01, n_test=600, query_test=100, steps=10, n_eval=100)
    assert S.FINN_METHODS == ("MAML", "FO-MAML", "BI-MAML", "pretrained") and S.TEST_SEED == 10_000
    kw = dict(iterations=12, n_test=6, n_eval=8)
    pre = S.finn_run("pretrained", 5, 1, **kw)
    assert pre["switch"] is None and pre["iterations"] == 12 and len(pre["mean"]) == 11
    # the pretrained baseline is Adam on the batches' ∇f, scored on the fixed held-out tasks: the same loop by hand
    dist = S.sinusoid_tasks(shots=5, query=5, K=1, n_eval=8, eval_seed=1)
    w = dist.loss.model.init(np.random.default_rng([1, 0])); rng = np.random.default_rng([1, 1]); rule = Adam(); st = rule.init(w)
    for _ in range(12):
        step, st = rule.update(dist.sample(25, rng).grad_f(w), st, 1e-3); w = w + step
    test = S.KStepPool(dist.loss, *S.draw_sinusoid(6, np.random.default_rng([S.TEST_SEED, 5]), 5, 100))
    L = test.adapted_losses(w, 0.01, 10)
    np.testing.assert_allclose(pre["mean"], L.mean(1), rtol=1e-12)
    np.testing.assert_allclose(pre["ci95"], 1.96 * L.std(1, ddof=1) / np.sqrt(6), rtol=1e-12)
    assert pre["worse"] == int(np.sum(L[-1] > L[0]))
    ma = S.finn_run("MAML", 5, 1, **kw)
    assert ma["mean"] != pre["mean"] and ma == S.finn_run("MAML", 5, 1, **kw) | dict(cpu_seconds=ma["cpu_seconds"])
    res = dict(settings=dict(S.FINN, **kw, seeds=[1], shots=[5]), runs=[ma, pre])
    table = S.finn_markdown(res)
    assert f"| MAML | {ma['mean'][0]:.3f} ± {ma['ci95'][0]:.3f} |" in table and "| pretrained |" in table and "anchor" not in table

def test_finn_table_and_prose_are_the_committed_record():
    "The full-protocol table the sinusoid chapter prints is finn_markdown of nbs/images/finn.json, and its prose numbers are that record's."
    import json, nbformat
    from pathlib import Path
    from bimaml_nb import sinusoid as S
    root = Path(__file__).parent.parent
    rec = json.loads((root / "nbs" / "images" / "finn.json").read_text())
    assert rec["settings"] == dict(S.FINN, seeds=[0, 1, 2], shots=[5, 10], quick=False) and len(rec["runs"]) == 24
    nb = nbformat.read(root / "nbs" / "10_sinusoid.ipynb", 4)
    cell = next(c for c in nb.cells if c.source.startswith("#| full\nimport json"))
    assert cell.outputs[0]["text"] == S.finn_markdown(rec) + "\n"
    F = {(r["shots"], r["method"]): r for r in S.summarise_finn(rec)}
    prose = next(c.source for c in nb.cells if c.source.startswith("**What the protocol shows**"))
    for k, m, j in ((10, "MAML", 1), (10, "MAML", 2), (10, "FO-MAML", 1), (5, "FO-MAML", 1), (5, "MAML", 1)):
        assert f"{F[k, m]['mean'][j]:.3f}" in prose, (k, m, j)
    assert f"{F[10, 'MAML']['lo'][1]:.3f}–{F[10, 'MAML']['hi'][1]:.3f}" in prose
    eps0 = [r["eps0_used"] for r in rec["runs"] if r["method"] == "BI-MAML"]
    assert f"{min(eps0):.0f} to {max(eps0):.0f}" in prose and all(r["switch"] == 0 for r in rec["runs"] if r["method"] == "BI-MAML")
    two = sum(r["cpu_seconds"] for r in rec["runs"] if r["shots"] == 10 and r["method"] in ("MAML", "FO-MAML"))
    assert f"{two / 60:.1f} min" in next(c.source for c in nb.cells if c.source.startswith("**The measurement.** The full protocol"))

def test_adapt_gives_the_points_F_evaluates():
    from bimaml_nb.kstep import adapt
    from bimaml_nb.oracles import TaskPool, squared_loss
    rng = np.random.default_rng(3); X, y, w = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 6)), rng.normal(size=3)
    P = TaskPool.from_data(squared_loss, X, y)
    U = adapt(P, w, 0.2)
    G = np.einsum("mnd,mn->md", X, np.einsum("mnd,d->mn", X, w) - y) / 6  # ∇f_i(w) of ½-squared loss, by hand
    np.testing.assert_allclose(U, w - 0.2 * G, rtol=1e-12)
    np.testing.assert_allclose(np.mean([0.5 * np.mean((X[i] @ U[i] - y[i]) ** 2) for i in range(4)]), P.F(w, 0.2), rtol=1e-12)
    K3 = KStepPool(squared_loss, X, y, K=3)
    np.testing.assert_allclose(K3._Sq(adapt(K3, w, 0.2, 3)) @ K3.p, K3.F(w, 0.2), rtol=1e-12)

def test_result_reads_like_scipys_optimize_result():
    from bimaml_nb.data import synthetic_regression
    from bimaml_nb.algorithms import maml
    ex = synthetic_regression(); r = maml(ex.pool, ex.w0, ex.alpha, ex.beta, max_iter=7)
    assert np.array_equal(r.x, r.iterates[-1]) and r.fun == r.F[-1] and r.nit == r.steps == 7 and r.success is False

def test_readme_shows_the_committed_finn_table():
    import json
    from pathlib import Path
    from bimaml_nb.sinusoid import finn_markdown
    root = Path(__file__).parent.parent
    k10 = finn_markdown(json.loads((root / "nbs" / "images" / "finn.json").read_text())).split("\n\n")[-1].strip()
    assert k10.startswith("| method |") and k10 in (root / "README.md").read_text()

def test_finn_run_times_stated_in_readme_and_help_are_the_record():
    import json
    from pathlib import Path
    from bimaml_nb.cli import FINN_HELP
    root = Path(__file__).parent.parent
    cpu = [r["cpu_seconds"] for r in json.loads((root / "nbs" / "images" / "finn.json").read_text())["runs"]]
    total = f"{sum(cpu) / 60:.0f} min of CPU"
    assert total in (root / "README.md").read_text() and total in FINN_HELP
    assert f"{min(cpu):.0f} to {max(cpu):.0f} s of CPU per run" in FINN_HELP
