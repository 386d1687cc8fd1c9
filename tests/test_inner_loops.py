"""Inner loops compared: the committed record against a second run of its cheap parts, its tables against the
notebook and README, the prose's figures against the record, and bad input."""
import json, math
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from bimaml_nb.oracles import squared_loss
from bimaml_nb.kstep import KStepPool
from bimaml_nb.inner_loops import (INNER_LOOPS, INNER_BUDGET, INNER_CHOICES, FLOW_TOL, HINGE, inner_loop_pools, meta_gradient_cost,
                                   equal_cost, paper_inner_loops, sinusoid_inner_loops, run_inner_loops, inner_loops_markdown,
                                   plot_inner_loops)

ROOT = Path(__file__).resolve().parents[1]
RECORD = json.loads((ROOT / "nbs" / "images" / "inner_loops.json").read_text())

def _close(a, b, rtol):
    "a and b equal: dicts and lists elementwise, numbers to rtol, the rest exactly."
    if isinstance(a, dict): return set(a) == set(b) and all(_close(a[k], b[k], rtol) for k in a)
    if isinstance(a, (list, tuple)): return len(a) == len(b) and all(_close(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float): return a is not None and b is not None and math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)
    return a == b

def test_the_record_is_what_the_code_computes_on_the_synthetic_regression():
    "The first table's rows for the synthetic regression: costs, steps, statuses and every score, recomputed."
    assert FLOW_TOL == dict(rtol=1e-6, atol=1e-8) and INNER_BUDGET == 2000.0
    rec = json.loads(json.dumps(paper_inner_loops("synthetic_regression")))
    assert _close(rec, RECORD["paper"][0], 1e-9), (rec, RECORD["paper"][0])

def test_the_sinusoid_costs_are_what_the_code_computes():
    "The second table's cost column (seed 0): one batch meta-gradient at w0 through each inner loop."
    rec = sinusoid_inner_loops(0, runs=False)
    assert _close(rec["cost"], RECORD["sinusoid"][0]["cost"], 1e-12), rec["cost"]

def test_the_record_has_every_pool_seed_and_run():
    assert [p["pool"] for p in RECORD["paper"]] == list(INNER_CHOICES) and [s["seed"] for s in RECORD["sinusoid"]] == [0, 1, 2]
    for rec in RECORD["paper"] + RECORD["sinusoid"]:
        assert [r["inner"] for r in rec["runs"]] == list(INNER_LOOPS)
        assert all(r["status"] == "budget spent" and r["cost"] > rec["budget"] and r["steps"] > 0 for r in rec["runs"])
    assert RECORD["hinge"]["choices"] == HINGE and RECORD["relu"]["activation"] == "relu"

def test_the_tables_in_the_notebook_and_readme_are_the_record():
    import nbformat
    nb = nbformat.read(ROOT / "nbs" / "12_inner_loops.ipynb", 4)
    shown = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" and "inner_loops_markdown(record)" in c.source for o in c.outputs if "data" in o]
    table = inner_loops_markdown(RECORD)
    assert shown == [table]
    readme = (ROOT / "README.md").read_text()
    assert table.split("\n\n")[0] in readme and table.split("\n\n")[1] in readme

def _lsq(seed, M=3, n=8, d=3):
    r = np.random.default_rng(seed)
    X, y = r.normal(size=(M, n, d)), r.normal(size=(M, n))
    A, b = np.einsum("mni,mnj->mij", X, X) / n, np.einsum("mni,mn->mi", X, y) / n
    return KStepPool(squared_loss, X, y), A, b, r.normal(size=d)

@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), budget=st.floats(3.0, 60.0), alpha=st.floats(0.01, 0.3), beta=st.floats(0.01, 0.2))
def test_one_step_runs_buy_budget_over_three_steps_and_match_a_hand_loop(seed, budget, alpha, beta):
    kp, A, b, w0 = _lsq(seed)
    rows = equal_cost({"one step": kp}, w0, alpha, beta, budget)
    n = int(budget // 3)
    assert rows[0]["steps"] == n and rows[0]["status"] == "budget spent"
    w = w0.copy()
    for _ in range(n):
        U = w - alpha * (A @ w - b)
        w = w - beta * np.einsum("mij,mj->mi", np.eye(3) - alpha * A, np.einsum("mij,mj->mi", A, U) - b).mean(0)
    np.testing.assert_allclose(rows[0]["w"], w, rtol=1e-9, atol=1e-12)

def test_the_three_pools_meet_their_closed_forms():
    from scipy.linalg import expm
    kp, A, b, w = _lsq(4); a = 0.2; pools = inner_loop_pools(kp)
    c = np.linalg.solve(A, b[..., None])[..., 0]
    U = {"one step": w - a * (A @ w - b), "flow": c + np.einsum("mij,mj->mi", np.stack([expm(-a * m) for m in A]), w - c),
         "iMAML": np.linalg.solve(A + np.eye(3) / a, (b + w / a)[..., None])[..., 0]}
    for k, P in pools.items(): assert abs(P.F(w, a) - kp.p @ kp._Sq(U[k])) < 1e-8, k
    cost = meta_gradient_cost(pools, w, a)
    assert cost["one step"] == (3.0, None) and all(cost[k][0] > 3 for k in ("flow", "iMAML"))

def test_a_failing_inner_loop_is_reported_not_raised():
    "The hinge: iMAML's proximal problem cannot be solved; the row says failed with the reason, the others run."
    from bimaml_nb.oracles import hinge_loss
    r = np.random.default_rng(0); X = r.normal(size=(2, 30, 3)); y = np.sign(r.normal(size=(2, 30)))
    pools = inner_loop_pools(KStepPool(hinge_loss(0.0), X, y), rtol=1e-3, atol=1e-5)
    del pools["flow"]
    cost = meta_gradient_cost(pools, np.ones(3), 0.3)
    assert cost["iMAML"][0] is None and "inner" in cost["iMAML"][1]
    rows = equal_cost(pools, np.ones(3), 0.3, 0.1, 30.0)
    assert rows[0]["status"] == "budget spent" and rows[1]["status"] == "failed" and rows[1]["w"] is None and "inner" in rows[1]["error"]

@pytest.mark.parametrize("call, says", [
    (lambda kp: inner_loop_pools(None), "pool must be a KStepPool"),
    (lambda kp: inner_loop_pools(KStepPool(squared_loss, kp.X, kp.y, K=2)), "one inner step"),
    (lambda kp: meta_gradient_cost({}, np.zeros(3), 0.1), "pools must be a dict"),
    (lambda kp: meta_gradient_cost({"a": kp, "b": KStepPool(squared_loss, kp.X, kp.y)}, np.zeros(3), 0.1), "share one counter"),
    (lambda kp: equal_cost(inner_loop_pools(kp), np.zeros(3), 0.1, 0.1, 0.0), "budget must be"),
    (lambda kp: equal_cost(inner_loop_pools(kp), np.zeros(3), 0.1, 0.1, float("nan")), "budget must be"),
    (lambda kp: equal_cost(inner_loop_pools(kp), np.zeros(4), 0.1, 0.1, 10.0), "w0"),
    (lambda kp: equal_cost(inner_loop_pools(kp), np.zeros(3), -0.1, 0.1, 10.0), "alpha"),
    (lambda kp: equal_cost(inner_loop_pools(kp), np.zeros(3), 0.1, 0.0, 10.0), "beta"),
    (lambda kp: paper_inner_loops("nope"), "name must be one of"),
    (lambda kp: paper_inner_loops("diabetes", choices="hinge"), "choices must be a dict"),
    (lambda kp: paper_inner_loops("diabetes", seed=-1), "seed"),
    (lambda kp: sinusoid_inner_loops(-1), "seed"),
    (lambda kp: sinusoid_inner_loops(0, "sigmoid", runs=False), "activation"),
    (lambda kp: sinusoid_inner_loops(0, batch_size=0, runs=False), "batch_size"),
    (lambda kp: run_inner_loops(seeds=[]), "seeds"),
    (lambda kp: run_inner_loops(seeds=["a"]), "seed"),
    (lambda kp: inner_loops_markdown(None), "record must be"),
    (lambda kp: inner_loops_markdown({"paper": 1}), "record must be"),
    (lambda kp: plot_inner_loops(None), "record must be"),
])
def test_bad_input_is_refused_by_name(call, says):
    kp = _lsq(0)[0]
    with pytest.raises((TypeError, ValueError), match=says): call(kp)

def test_the_prose_states_the_record():
    "Every figure of the chapter's summary is computed from the record, and the summary's orderings hold in it."
    import nbformat
    nb = nbformat.read(ROOT / "nbs" / "12_inner_loops.ipynb", 4)
    prose = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("What the tables say"))
    paper, sin = RECORD["paper"], RECORD["sinusoid"]
    ratio = lambda rec, k: rec["cost"][k] / rec["cost"]["one step"]
    fl, im = [ratio(p, "flow") for p in paper], [ratio(p, "iMAML") for p in paper]
    assert f"flow\n  costs {min(fl):.0f} to {max(fl):.0f} times" in prose and f"iMAML {min(im):.0f} to {max(im):.0f} times" in prose
    assert f"{np.mean([ratio(s, 'flow') for s in sin]):.0f} times as much through the flow and {np.mean([ratio(s, 'iMAML') for s in sin]):.0f} times through iMAML" in prose
    steps = [r["steps"] for p in paper for r in p["runs"]]
    assert {p["runs"][0]["steps"] for p in paper} == {666} and f"{min(steps[1::3] + steps[2::3])} to {max(steps[1::3] + steps[2::3])} exact ones" in prose
    for p in paper:  # one step lowest on every loss, and the three losses rank the final points alike
        F = {r["inner"]: r["F"] for r in p["runs"]}
        assert all(F["one step"][k] < min(F["flow"][k], F["iMAML"][k]) for k in INNER_LOOPS), p["pool"]
        assert len({tuple(sorted(INNER_LOOPS, key=lambda m: F[m][k])) for k in INNER_LOOPS}) == 1, p["pool"]
    mse1 = {k: np.mean([next(r for r in s["runs"] if r["inner"] == k)["mse"][1] for s in sin]) for k in INNER_LOOPS}
    assert f"is {mse1['one step']:.3f}, against {mse1['flow']:.3f} (flow) and {mse1['iMAML']:.3f} (iMAML)" in prose
    mse0 = [np.mean([next(r for r in s["runs"] if r["inner"] == k)["mse"][0] for s in sin]) for k in ("flow", "iMAML")]
    assert all(abs(m - 3.2) < 0.05 for m in mse0) and "about 3.2" in prose
    st_ = {k: np.mean([next(r for r in s["runs"] if r["inner"] == k)["steps"] for s in sin]) for k in ("flow", "iMAML")}
    assert f"sinusoid, {st_['flow']:.0f} and {st_['iMAML']:.0f} steps are too few" in prose
    relu, hinge = RECORD["relu"]["cost"], RECORD["hinge"]["cost"]
    assert f"costs {relu['flow'] / relu['one step']:.0f} times a\n  gradient step; with the hinge, {hinge['flow'] / hinge['one step']:.0f} times" in prose
    assert relu["iMAML"] is None and hinge["iMAML"] is None and "stalled" in RECORD["relu"]["errors"]["iMAML"]

def test_the_plot_draws_the_record():
    "Panel a's bars are the cost ratios of the record (NaN where iMAML stalls), panel b's the final F over F(w0)."
    import matplotlib; matplotlib.use("Agg")
    fig = plot_inner_loops(RECORD); a, b = fig.axes
    cases = [p["cost"] for p in RECORD["paper"]] + [RECORD["sinusoid"][0]["cost"], RECORD["relu"]["cost"], RECORD["hinge"]["cost"]]
    flow = [r.get_height() for r in a.patches[:len(cases)]]
    np.testing.assert_allclose(flow, [c["flow"] / c["one step"] for c in cases], rtol=1e-12)
    im = [r.get_height() for r in a.patches[len(cases):]]
    assert np.isnan(im[-1]) and np.isnan(im[-2]) and np.isclose(im[0], RECORD["paper"][0]["cost"]["iMAML"] / 3)
    p0 = RECORD["paper"][0]
    assert np.isclose(b.patches[0].get_height(), p0["runs"][0]["F"]["one step"] / p0["start"]["one step"], rtol=1e-12)

def test_quick_mode_is_small_and_marked():
    rec = run_inner_loops(seeds=(0,), quick=True)
    assert rec["relu"] is None and rec["hinge"] is None and rec["paper"][0]["budget"] == 300.0 and rec["sinusoid"][0]["budget"] == 20.0
    assert inner_loops_markdown(rec).endswith("(Quick mode: small budgets and pools; the ReLU and hinge costs are not measured.)")
    with pytest.raises(TypeError, match="quick must be True or False"): run_inner_loops(quick="yes")

# ---- runs that cannot be scored say so; arguments are checked before any work

from bimaml_nb.data import load_experiment
from bimaml_nb.kstep import kstep_pool
from bimaml_nb.oracles import NonFinite
from bimaml_nb.flow import FlowPool

@pytest.fixture(scope="module")
def reg():
    ex = load_experiment("synthetic_regression", 0)
    return ex, inner_loop_pools(kstep_pool(ex))

def test_a_diverging_run_is_reported_with_no_point(reg):
    "β = 50 (stable below 4.4): F grows a million-fold within the budget; the row says diverged and holds no w to score."
    ex, P = reg
    rows = {r["inner"]: r for r in equal_cost({k: P[k] for k in ("one step", "flow")}, ex.w0, 0.3, 50.0, 300)}
    for r in rows.values(): assert r["status"] == "diverged" and r["w"] is None and "diverged" in r["error"] and r["steps"] > 0, r

def test_a_budget_that_buys_no_step_says_so(reg):
    "20 gradient-equivalents: one step buys 6 steps (3 each, the last one over), the flow (79 a meta-gradient) none, and says w is w0."
    ex, P = reg
    rows = {r["inner"]: r for r in equal_cost(P, ex.w0, ex.alpha, ex.beta, 20)}
    assert rows["one step"]["steps"] == 6 and rows["one step"]["error"] is None
    assert rows["flow"]["steps"] == 0 and "buys no step" in rows["flow"]["error"] and np.array_equal(rows["flow"]["w"], ex.w0)

@pytest.mark.parametrize("seed,exc", [(None, TypeError), (True, TypeError), (-1, ValueError), (1.5, TypeError), ([0, -2], ValueError)])
def test_equal_cost_refuses_seeds_that_are_not_integers(reg, seed, exc):
    ex, P = reg
    with pytest.raises(exc, match="seed"): equal_cost(P, ex.w0, ex.alpha, ex.beta, 10, seed=seed)

@pytest.mark.parametrize("kw,name", [(dict(beta=0.0), "beta"), (dict(alpha=-1.0), "alpha"), (dict(budget=np.nan), "budget"), (dict(batch_size=0), "batch_size")])
def test_equal_cost_refuses_bad_numbers_by_name(reg, kw, name):
    ex, P = reg
    args = dict(alpha=ex.alpha, beta=ex.beta, budget=10.0) | kw
    with pytest.raises((TypeError, ValueError), match=name): equal_cost(P, ex.w0, **args)

def test_pools_without_a_counter_are_refused(reg):
    class NoCounter:
        def grad_F(self, w, a): return w
    with pytest.raises(TypeError, match="pools"): equal_cost({"x": NoCounter()}, reg[0].w0, 0.1, 0.1, 10)

def test_a_flow_too_stiff_or_overflowing_is_an_error_named_as_such(reg):
    "T = 10⁶ is refused from its step size after 50 steps (about 3.5e5 needed); T = 10³ overflows backwards: NonFinite, not a ValueError on w."
    ex, P = reg
    with pytest.raises(NonFinite, match="would need about"): P["flow"].grad_F(ex.w0, 1e6)
    with pytest.raises(NonFinite, match="flow"): FlowPool(kstep_pool(ex)).grad_F(ex.w0, 1e3)

@pytest.mark.parametrize("call,name", [
    (lambda: paper_inner_loops("synthetic_regression", budget=0, runs=False), "budget"),
    (lambda: paper_inner_loops("synthetic_regression", runs=1), "runs"),
    (lambda: paper_inner_loops("synthetic_svm", choices=dict(loss="hinge", lr=0.1), runs=False), "choices"),
    (lambda: paper_inner_loops("synthetic_svm", choices=dict(seed=3), runs=False), "choices"),
    (lambda: sinusoid_inner_loops(0, n_test=0, runs=False), "n_test"),
    (lambda: sinusoid_inner_loops(0, beta=-1.0, runs=False), "beta"),
    (lambda: sinusoid_inner_loops(0, budget=np.inf, runs=False), "budget"),
    (lambda: sinusoid_inner_loops(0, runs="yes"), "runs"),
    (lambda: run_inner_loops(progress=1), "progress"),
    (lambda: run_inner_loops(quick=1), "quick")])
def test_experiments_check_every_argument_before_work(call, name):
    with pytest.raises((TypeError, ValueError), match=name): call()

_MUTATIONS = {
    "no paper": lambda r: r.pop("paper"), "empty paper": lambda r: r.update(paper=[]),
    "no start": lambda r: r["paper"][0].pop("start"), "short mse": lambda r: r["sinusoid"][0]["runs"][0].update(mse=[1.0]),
    "zero cost": lambda r: r["paper"][0]["cost"].update(flow=0), "relu without cost": lambda r: r.update(relu={"cost": None}),
    "a run missing": lambda r: r["paper"][0]["runs"].pop(), "budget None": lambda r: r["paper"][0].update(budget=None),
    "steps a bool": lambda r: r["sinusoid"][0]["runs"][1].update(steps=True), "no sinusoid": lambda r: r.update(sinusoid=[]),
    "failed cost without its error": lambda r: (r["hinge"]["cost"].update(flow=None), r["hinge"].update(errors={})),
    "status None": lambda r: r["paper"][1]["runs"][0].update(status=None)}

@pytest.mark.parametrize("what", _MUTATIONS)
def test_tables_and_plot_refuse_a_malformed_record_by_name(what):
    import copy
    r = copy.deepcopy(RECORD); _MUTATIONS[what](r)
    for f in (inner_loops_markdown, plot_inner_loops):
        with pytest.raises(ValueError, match="record"): f(r)
    with pytest.raises(TypeError, match="record"): inner_loops_markdown([RECORD])

def test_a_record_where_every_meta_gradient_failed_is_drawn_and_tabled():
    import copy, matplotlib.pyplot as plt
    r = copy.deepcopy(RECORD)
    for p in r["paper"] + r["sinusoid"] + [r["relu"], r["hinge"]]:
        for k in INNER_LOOPS: p["cost"][k], p["errors"][k] = None, "solver: failed"
    for p in r["paper"]:
        for row in p["runs"]: row["F"] = dict.fromkeys(INNER_LOOPS)
    fig = plot_inner_loops(r); ax = fig.axes[0]
    assert ax.get_ylim() == (1.0, 10.0) and sum("stalls" in t.get_text() for t in ax.texts) == 2 * len(r["paper"] + [1, 1, 1])
    plt.close(fig)
    assert "– (flow: solver)" in inner_loops_markdown(r)
