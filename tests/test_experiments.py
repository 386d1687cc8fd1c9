"""Verdict rules on constructed cases, switch steps pinned to independent numpy, sweeps equal on joblib and Dask."""
import math
import numpy as np
import pytest
from bimaml_nb.experiments import (timing_verdict, step_verdict, aggregate, VERDICTS, PAPER_DECREASE, primary, variant, paired_run,
                                   matched_switch, switch_at, pool_record, sweep, strip_cpu, fig2_claims, eps0_fixed_point, eps0_fraction)

def fake(d, switch=20, F_bi=1.0, F_ma=1.1, status="budget", at=(0.05, 0.6), start_dist=1.0):
    a = {"BI-MAML": dict(dist=at[0], grad_F=at[0]), "MAML": dict(dist=at[1], grad_F=at[1])}
    return dict(cost_decrease=d, n_iter=50, switch=switch, status={"MAML": status, "BI-MAML": "budget"},
                F={"MAML": F_ma, "BI-MAML": F_bi}, start=dict(dist=start_dist, grad_F=1.0), at={"25": a, "30": a})

@pytest.mark.parametrize("run, verdict", [
    (fake(0.40), "holds"), (fake(0.33), "holds"), (fake(0.20), "partly"), (fake(0.5, F_bi=2.0), "partly"),
    (fake(0.0), "does not hold"), (fake(-0.2), "does not hold"),
    (fake(0.47), "holds"), (fake(0.48), "partly"), (fake(0.31), "partly"),  # the band [p − 0.05, p + 0.10], both edges
    (fake(0.66, switch=None), "rule failed"), (fake(0.0, switch=0), "rule failed"), (fake(0.4, switch=41), "rule failed"),
    (fake(0.4, switch=40), "holds"), (fake(0.5, status="diverged"), "not comparable"),
    (dict(fake(0.34), cpu_decrease=[-0.1, -0.05, 0.2]), "disputed"), (dict(fake(0.34), cpu_decrease=[0.01, 0.02, -0.3]), "holds"),
    (dict(fake(0.34), cpu_decrease=[-0.1, -0.05]), "holds"),  # fewer than MIN_CPU_PAIRS: CPU not judged
])
def test_timing_rule_reaches_every_verdict(run, verdict):
    v, reason = timing_verdict(run, 0.37)
    assert v == verdict and reason

def test_never_switching_counts_against_the_rule_whatever_the_saving():
    v, reason = timing_verdict(fake(0.99, switch=None), 0.37)
    assert v == "rule failed" and "never left phase 1" in reason

def test_disputed_names_both_signs():
    assert timing_verdict(dict(fake(0.34), cpu_decrease=[-0.06, -0.07, 0.2]), 0.36) == ("disputed", "disputed: cost -34%, CPU +6%")

def test_published_constants_are_the_papers():
    "§5: 37% and 36% (regression, synthetic and Diabetes), 19% and 37% (SVM, synthetic and MNIST), after 50 iterations; Figs. 2a, 2g."
    from bimaml_nb import experiments as E
    assert E.PAPER_DECREASE == {"synthetic_regression": 0.37, "diabetes": 0.36, "synthetic_svm": 0.19, "mnist_svm": 0.37}
    assert E.N_ITER == 50 and E.FIG2 == ("synthetic_regression", "diabetes", "synthetic_svm", "mnist_svm")
    assert {k: v[0] for k, v in E.STEP_CLAIMS.items()} == {"synthetic_regression": 25, "synthetic_svm": 30}
    assert (E.TOL, E.TOL_UP, E.MIN_PHASE2, E.MIN_CPU_PAIRS) == (0.05, 0.10, 10, 3)  # the README states these numbers

@pytest.mark.parametrize("at, switch, verdict", [((0.05, 0.6), 5, "holds"), ((0.3, 0.6), 5, "partly"), ((0.6, 0.3), 5, "does not hold"),
                                                 ((0.05, 0.6), 25, "holds"), ((0.5, 0.5), 0, "not comparable"),
                                                 ((0.05, 0.6), None, "not comparable"), ((0.05, 0.6), 26, "not comparable")])
def test_step_rule_reaches_every_verdict(at, switch, verdict):
    assert step_verdict(fake(0.3, switch=switch, at=at), 25)[0] == verdict
    if switch != 26: assert step_verdict(fake(0.3, switch=switch, at=at, start_dist=None), 30)[0] == verdict  # judged on ‖∇F‖ where w* is unknown

@pytest.mark.parametrize("verdicts, expected", [
    (["holds"] * 8 + ["partly"] * 2, "holds"), (["holds"] * 7 + ["partly"] * 3, "partly"),
    (["does not hold"] * 6 + ["holds"] * 4, "does not hold"), (["not comparable"] * 6 + ["holds"] * 4, "not comparable"),
    (["not comparable"] * 5 + ["holds"] * 5, "holds"), (["not comparable"] * 4 + ["does not hold"] * 4 + ["partly"] * 2, "does not hold"),
    (["rule failed"] * 6 + ["holds"] * 4, "rule failed"), (["rule failed"] * 5 + ["holds"] * 5, "partly"), (["disputed"] * 7 + ["holds"] * 3, "disputed"),
])
def test_aggregate_over_seeds(verdicts, expected):
    assert aggregate(verdicts) == expected and expected in VERDICTS

def test_claim_rows_count_seeds_and_carry_spread():
    recs = [dict(name="diabetes", seed=s, runs={"fixed_point": fake(d, switch=sw)}, matched=dict(step=None))
            for s, (d, sw) in enumerate([(0.4, 10), (0.1, 10), (0.66, None)])]
    row = fig2_claims(recs)[0]
    assert row["per_seed"] == ["holds", "partly", "rule failed"] and row["holds_in"] == 1 and row["seeds"] == 3
    assert row["tally"] == "holds 1, partly 1, rule failed 1 of 3 seeds"
    assert row["cost_decrease"] == dict(median=0.25, min=0.1, max=0.4, n=2) and row["verdict"] == "partly"  # over the judged seeds
    step = fig2_claims([dict(r, name="synthetic_regression") for r in recs])[1]
    assert step["seeds"] == 3 and step["per_seed"] == ["holds", "holds", "not comparable"]  # still in phase 1 at step 25: not comparable
    nc = fig2_claims([dict(r, runs={"fixed_point": fake(0.66, switch=None)}) for r in recs])[0]
    assert nc["verdict"] == "rule failed" and nc["cost_decrease"]["n"] == 3  # no seed judged: spread over all seeds

def _switch_numpy(A, b, w0, beta, tau, n_iter=50):
    Ab, bb = A.mean(0), b.mean(0); w = w0.copy()
    for k in range(n_iter + 1):
        if np.linalg.norm(Ab @ w - bb) < tau: return k
        w = w - beta * (Ab @ w - bb)
    return None

def _tau_numpy(A, b, alpha, c=2.0):
    wf = np.linalg.solve(A.mean(0), b.mean(0)); U = wf - alpha * (np.einsum("mij,j->mi", A, wf) - b)
    return 2 * c * np.linalg.norm(np.mean(np.einsum("mij,mj->mi", A, U) - b, 0))

@pytest.mark.parametrize("name", ["synthetic_regression", "diabetes"])
@pytest.mark.parametrize("seed", [0, 1])
def test_switch_steps_of_primary_runs_match_plain_numpy(name, seed):
    ex = primary(name, seed); run = paired_run(ex)
    assert run["switch"] == _switch_numpy(*ex.moments, ex.w0, ex.beta, run["eps0"])
    np.testing.assert_allclose(run["eps0"], _tau_numpy(*ex.moments, ex.alpha), rtol=0.2)  # rule (2) at the exact w_f

@pytest.mark.parametrize("name, seed, step", [("synthetic_regression", 0, 44), ("diabetes", 0, 37)])
def test_switch_steps_pinned(name, seed, step):
    assert paired_run(primary(name, seed))["switch"] == step

def test_hinge_fraction_switch_matches_plain_numpy():
    ex = primary("synthetic_svm", 0)
    grad = lambda w: np.mean([-(X * (y * ((y * (X @ w)) < 1))[:, None]).mean(0) for X, y in zip(ex.X, ex.y)], 0)
    w, tau, k_np = ex.w0.copy(), 0.1 * np.linalg.norm(grad(ex.w0)), None
    for k in range(51):
        if np.linalg.norm(grad(w)) < tau: k_np = k; break
        w = w - ex.beta * grad(w)
    assert paired_run(ex, "fraction")["switch"] == k_np
    np.testing.assert_allclose(eps0_fraction(ex)[0], tau, rtol=1e-12)

@pytest.mark.parametrize("p", sorted(set(PAPER_DECREASE.values())))
def test_matched_switch_step_is_eq_4(p):
    ex = primary("diabetes", 0)
    m = matched_switch(ex, p)
    assert m["step"] == math.ceil(76.5 * p) and m["cost_decrease"] >= p
    assert 1 - switch_at(ex, m["step"] - 1).total_cost / (3 * 51) < p

def test_mse_variant_is_twice_half_mse():
    ex = primary("diabetes", 0); m = variant(ex, "mse")
    w = ex.w0 * 0.3
    np.testing.assert_allclose(m.pool.grad_f(w), 2 * ex.pool.grad_f(w), rtol=1e-12)
    assert m.choices["model"] == "mse" and eps0_fixed_point(m)[1] > 0

def test_sweep_on_processes_equals_serial():
    calls = [("diabetes", s, 1) for s in (0, 1)]
    assert strip_cpu(sweep(pool_record, calls)) == strip_cpu(sweep(pool_record, calls, n_jobs=2))

def test_sweep_on_a_dask_cluster_equals_serial():
    distributed = pytest.importorskip("dask.distributed")
    calls = [("synthetic_regression", s, 1) for s in (0, 1)] + [("diabetes", 2, 1)]
    serial = sweep(pool_record, calls)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
         distributed.Client(cluster) as client:
        on_dask = sweep(pool_record, calls, scheduler=client)
        by_address = sweep(pool_record, calls[:1], scheduler=cluster.scheduler_address)
    assert strip_cpu(serial) == strip_cpu(on_dask) and strip_cpu(serial[:1]) == strip_cpu(by_address)

@pytest.mark.parametrize("name", ["synthetic_regression", "diabetes"])
def test_library_default_eps0_is_the_command_lines_rule(name):
    "bimaml's default ε₀ ('fixed_point') is the threshold, switch and cost the claims are judged with."
    from bimaml_nb.algorithms import bimaml
    ex = primary(name, 1); run = paired_run(ex)
    r = bimaml(ex.pool, ex.w0, ex.alpha, ex.beta, max_iter=50)
    assert r.params["eps0_used"] == pytest.approx(run["eps0"], rel=1e-12) and r.switch == run["switch"]
    assert r.total_cost == pytest.approx(run["cost"]["BI-MAML"], rel=1e-12)  # the rule's calibration is counted inside the run

def test_committed_claims_cost_columns_are_recomputed_by_code():
    "Rerun the regression pools' paired runs for seeds 0–9 (cost only, machine-independent) and re-judge: claims.md's cost cells follow."
    import json
    from pathlib import Path
    from bimaml_nb.reports import claims_markdown
    root = Path(__file__).resolve().parents[1] / "nbs" / "images"
    res, table = json.loads((root / "results.json").read_text()), (root / "claims.md").read_text()
    committed = {(r["name"], r["seed"]): r["runs"]["fixed_point"] for r in res["records"]}
    fresh = []
    for name in ("synthetic_regression", "diabetes"):
        for seed in range(10):
            run = paired_run(primary(name, seed))
            old = committed[(name, seed)]
            assert (run["switch"], run["cost"]) == (old["switch"], old["cost"]), (name, seed)
            run["cpu_decrease"] = old["cpu_decrease"]  # the one measured column, taken from the committed run
            fresh.append(dict(name=name, seed=seed, runs={"fixed_point": run}, matched=next(r["matched"] for r in res["records"] if (r["name"], r["seed"]) == (name, seed))))
    for row in fig2_claims(fresh):
        line = claims_markdown([row]).splitlines()[-1]
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert any(l.startswith(f"| {row['claim']} |") and [c.strip() for c in l.split("|")[1:-1]][:3] == cells[:3]
                   and [c.strip() for c in l.split("|")[1:-1]][4:6] == cells[4:6] for l in table.splitlines()), line

@pytest.mark.parametrize("name, ratio", [("synthetic_regression", 0.77), ("diabetes", 0.52)])
def test_first_order_estimate_at_w_star_is_what_the_prose_says(name, ratio):
    "03_algorithms: 2α‖b(w*)‖ is 0.77 and 0.52 times ‖∇f(w*)‖ on the regression pools (b from the two-gradient formula, by hand)."
    ex = primary(name, 0); P, a, w = ex.pool, ex.alpha, ex.w_star
    g, G = P.grad_f(w), P.task_grads(w)
    inner = np.mean([P.task_grads(w - a * G[i])[i] for i in range(P.M)], axis=0)  # E_i ∇f_i(w − α∇f_i(w)), uniform p
    two_alpha_b = 2 * np.linalg.norm(P.grad_f(w - a * g) - inner)
    assert round(two_alpha_b / np.linalg.norm(g), 2) == ratio
