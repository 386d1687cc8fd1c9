"""Theory helpers against hand-computable cases."""
import numpy as np
import pytest
from bimaml_nb.oracles import TaskPool, squared_loss
from bimaml_nb.theory import constants, conditions, zeta, alpha_zeta_zero, theory_report, landscape_1d, fig1_tasks, Constants, ball

def test_constants_of_quadratic_tasks_are_exact():
    A = np.array([np.diag([1.0, 3.0]), np.diag([2.0, 0.5])])
    fs = [lambda w, A=Ai: 0.5 * w @ A @ w for Ai in A]
    pool = TaskPool.from_functions(fs, d=2)
    pts = ball(np.zeros(2), 1.0, 10, np.random.default_rng(0))
    c = constants(pool, pts)
    assert c.L == pytest.approx(3.0) and c.mu == pytest.approx(0.5) and c.kappa < 1e-10
    # σ at w is ½‖(A_1 − A_2) w‖: the constant is its largest value over the region's points
    assert c.sigma == pytest.approx(max(0.5 * np.linalg.norm((A[0] - A[1]) @ w) for w in pts), rel=1e-12)

def test_conditions_and_zeta():
    c = Constants(L=2.0, mu=0.5, sigma=1.0, kappa=0.0, n_points=1, n_pairs=0)
    conds = {k.theorem: k for k in conditions(c, 0.2)}
    assert conds["Theorem 3.8"].bound == pytest.approx(0.25) and conds["Theorem 3.8"].holds
    assert conds["Theorem 3.9"].bound == pytest.approx(0.125) and not conds["Theorem 3.9"].holds
    a0 = alpha_zeta_zero(c)
    assert zeta(c, a0) == pytest.approx(0.0, abs=1e-12) and zeta(c, 0.5 * a0) > 0 > zeta(c, 2 * a0)

def test_fig1_has_several_critical_points_at_04_and_one_at_small_alpha():
    assert len(landscape_1d(fig1_tasks, 0.4, n=200_001).critical) > 1
    assert len(landscape_1d(fig1_tasks, 0.05, n=200_001).critical) == 1

def test_report_rejects_bad_input():
    pool = TaskPool.from_data(squared_loss, np.ones((2, 3, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="alpha must be"): theory_report(pool, -1.0, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="region is empty"): theory_report(pool, 0.1, np.zeros((0, 2)))

# ---- second computations: everything below is written by hand here, not taken from the package ----
from fractions import Fraction
from scipy.optimize import brentq
from bimaml_nb.theory import (alpha_zeta_half, critical_count_changes, maml_jet, tasks_1d, maml_1d)

def _zeta_by_hand(L, mu, a):
    "Lemma 3.7's ζ = μ − (5/4)L²α(L³α² + 2L²α + 2), in exact rational arithmetic."
    L, mu, a = Fraction(L), Fraction(mu), Fraction(a)
    return mu - Fraction(5, 4) * L ** 2 * a * (L ** 3 * a ** 2 + 2 * L ** 2 * a + 2)

@pytest.mark.parametrize("L, mu, a", [(2, Fraction(1, 2), Fraction(1, 100)), (Fraction(201, 100), Fraction(1, 100), Fraction(2, 5)),
                                      (Fraction(1, 2), Fraction(1, 4), Fraction(1, 10)), (3, 1, Fraction(1, 1000))])
def test_zeta_against_the_formula_by_hand(L, mu, a):
    c = Constants(L=float(L), mu=float(mu), sigma=1.0, kappa=0.0, n_points=1, n_pairs=0)
    exact = _zeta_by_hand(L, mu, a)
    assert zeta(c, float(a)) == pytest.approx(float(exact), rel=1e-13, abs=1e-15)
    # the test has the power to see a wrong term: halving any one term moves ζ far outside the tolerance
    L_, a_ = Fraction(L), Fraction(a)
    for wrong in (Fraction(5, 8) * L_ ** 2 * a_ * (L_ ** 3 * a_ ** 2 + 2 * L_ ** 2 * a_ + 2),
                  Fraction(5, 4) * L_ ** 2 * a_ * (L_ ** 3 * a_ ** 2 / 2 + 2 * L_ ** 2 * a_ + 2),
                  Fraction(5, 4) * L_ ** 2 * a_ * (L_ ** 3 * a_ ** 2 + L_ ** 2 * a_ + 2),
                  Fraction(5, 4) * L_ ** 2 * a_ * (L_ ** 3 * a_ ** 2 + 2 * L_ ** 2 * a_ + 1)):
        assert abs(float(Fraction(mu) - wrong - exact)) > 1e-9 * max(1, abs(float(exact)))

def test_zeta_at_the_paper_example_numbers():
    # Fig. 1: L = 2.01, μ = 0.01, α = 0.4, by hand: 0.01 − 1.25·4.0401·0.4·(8.120601·0.16 + 2·4.0401·0.4 + 2)
    c = Constants(L=2.01, mu=0.01, sigma=1.0, kappa=0.0, n_points=1, n_pairs=0)
    assert zeta(c, 0.4) == pytest.approx(0.01 - 1.25 * 4.0401 * 0.4 * (8.120601 * 0.16 + 2 * 4.0401 * 0.4 + 2), rel=1e-13)

@pytest.mark.parametrize("L, mu", [(2.0, 0.5), (2.2420516, 0.275773), (2.01, 0.01), (10.0, 3.0)])
def test_alpha_where_zeta_is_zero_or_half_mu_are_the_cubics_roots(L, mu):
    c = Constants(L=L, mu=mu, sigma=1.0, kappa=0.0, n_points=1, n_pairs=0)
    for target, got in ((0.0, alpha_zeta_zero(c)), (mu / 2, alpha_zeta_half(c))):
        r = np.roots([1.25 * L ** 5, 2.5 * L ** 4, 2.5 * L ** 2, target - mu])
        r = r[(np.abs(r.imag) < 1e-12) & (r.real > 0)].real
        assert len(r) == 1 and got == pytest.approx(r[0], rel=1e-10)

def _fig1_by_hand(w, a):
    "F, F′, F″ of the Fig. 1 pair (f_1 = 0.505w² − sin w, f_2 = 0.505w² − 1e-4 sin 100w) at α = a; accepts complex w, a."
    u1, u2 = w - a * (1.01 * w - np.cos(w)), w - a * (1.01 * w - 0.01 * np.cos(100 * w))
    F = (0.505 * u1 ** 2 - np.sin(u1) + 0.505 * u2 ** 2 - 1e-4 * np.sin(100 * u2)) / 2
    c1, c2 = 1 - a * (1.01 + np.sin(w)), 1 - a * (1.01 + np.sin(100 * w))
    dF = (c1 * (1.01 * u1 - np.cos(u1)) + c2 * (1.01 * u2 - 0.01 * np.cos(100 * u2))) / 2
    d2F = (-a * np.cos(w) * (1.01 * u1 - np.cos(u1)) + c1 ** 2 * (1.01 + np.sin(u1))
           - 100 * a * np.cos(100 * w) * (1.01 * u2 - 0.01 * np.cos(100 * u2)) + c2 ** 2 * (1.01 + np.sin(100 * u2))) / 2
    return F, dF, d2F

def test_hand_formulas_agree_with_themselves_by_complex_step():
    w, a, h = np.linspace(-3, 3, 7), 0.4, 1e-30
    np.testing.assert_allclose(_fig1_by_hand(w + 1j * h, a)[0].imag / h, _fig1_by_hand(w, a)[1], rtol=1e-12)
    np.testing.assert_allclose(_fig1_by_hand(w + 1j * h, a)[1].imag / h, _fig1_by_hand(w, a)[2], rtol=1e-12)

def test_maml_jet_against_complex_step_derivatives_of_the_hand_formulas():
    w, a, h = np.linspace(-4, 4, 17), np.linspace(0.01, 0.45, 17), 1e-30
    _, dF, d2F = _fig1_by_hand(w, a)
    want = [dF, d2F, _fig1_by_hand(w + 1j * h, a)[2].imag / h, _fig1_by_hand(w, a + 1j * h)[1].imag / h,
            _fig1_by_hand(w, a + 1j * h)[2].imag / h]
    np.testing.assert_allclose(maml_jet(fig1_tasks, w, a), want, rtol=1e-9, atol=1e-9)

def test_published_fig1_figures_by_a_second_computation():
    "α = 0.4: 7 critical points, F″ < 0 on 317 intervals covering 49.1% of [−10, 10], global minimiser 0.344866."
    ls = landscape_1d(fig1_tasks, 0.4)
    w = np.linspace(-10, 10, 600_001)
    F, dF, d2F = _fig1_by_hand(w, 0.4)
    crossings = np.flatnonzero(np.diff(np.sign(dF)))
    roots = np.array([brentq(lambda x: _fig1_by_hand(x, 0.4)[1], w[k], w[k + 1], xtol=1e-14) for k in crossings])
    assert len(roots) == len(ls.critical) == 7
    np.testing.assert_allclose(ls.critical, roots, atol=1e-10)
    ch = np.flatnonzero(np.diff(np.sign(d2F)))
    ends = np.array([brentq(lambda x: _fig1_by_hand(x, 0.4)[2], w[k], w[k + 1], xtol=1e-13) for k in ch])
    down = np.diff(np.sign(d2F))[ch] < 0
    starts = np.r_[[-10.0] * bool(d2F[0] < 0), ends[down]]; stops = np.r_[ends[~down], [10.0] * bool(d2F[-1] < 0)]
    assert len(starts) == len(stops) == len(ls.nonconvex) == 317
    share = np.sum(stops - starts) / 20
    assert abs(share - ls.nonconvex_share) < 1e-4 and f"{share:.1%}" == f"{ls.nonconvex_share:.1%}" == "49.1%"
    w_min = roots[np.argmin(_fig1_by_hand(roots, 0.4)[0])]
    assert w_min == pytest.approx(ls.global_min, abs=1e-10) and round(w_min, 6) == 0.344866
    assert abs(w_min - w[np.argmin(F)]) < 1e-4  # the lowest point of the grid agrees

def test_tasks_1d_cache_never_serves_another_grid():
    t = tasks_1d([lambda w: w ** 2, lambda w: w ** 3])
    a, b = np.linspace(0, 1, 5), np.linspace(1, 2, 5)
    np.testing.assert_allclose(t(a)[1], [2 * a, 3 * a ** 2]); np.testing.assert_allclose(t(b)[1], [2 * b, 3 * b ** 2])
    np.testing.assert_allclose(t(a)[3], [0 * a, 6 + 0 * a])
    with pytest.raises(ValueError, match="read-only"): t(a)[0][0, 0] = 1.0

def _cubic_jet(s, ds):
    "The jet (F′, F″, F‴, ∂αF′, ∂αF″) of F′(w, α) = w³ − 3w + s(α)."
    def jet(w, a):
        w, a = np.broadcast_arrays(np.asarray(w, float), np.asarray(a, float))
        return np.stack([w ** 3 - 3 * w + s(a), 3 * w ** 2 - 3, 6 * w, ds(a), 0 * w])
    return jet

def test_count_changes_on_a_cubic_with_known_change_points():
    # w³ − 3w + s: double root at ±1 when s = ∓2 … at w = 1 when s = 2, at w = −1 when s = −2; on [−1.5, 1.5]
    # the outer roots cross the ends when s = ±1.125. s = 2.5 sin 2πα gives every kind, in both directions.
    cc = critical_count_changes(_cubic_jet(lambda a: 2.5 * np.sin(2 * np.pi * a), lambda a: 5 * np.pi * np.cos(2 * np.pi * a)), 0, 1, -1.5, 1.5)
    a1, a2 = np.arcsin(0.45) / (2 * np.pi), np.arcsin(0.8) / (2 * np.pi)
    np.testing.assert_allclose(cc.alphas, [a1, a2, 0.5 - a2, 0.5 - a1, 0.5 + a1, 0.5 + a2, 1 - a2, 1 - a1], atol=1e-9)
    assert cc.kinds == ["end", "fold", "fold", "end", "end", "fold", "fold", "end"]
    np.testing.assert_allclose(cc.points, [1.5, 1, 1, 1.5, -1.5, -1, -1, -1.5], atol=1e-6)
    assert cc.counts == [1, 2, 0, 2, 1, 2, 0, 2, 1]
    assert cc.where(0) == [(pytest.approx(a2), pytest.approx(0.5 - a2)), (pytest.approx(0.5 + a2), pytest.approx(1 - a2))]

@pytest.mark.parametrize("centre, half", [(0.51, 1e-3), (0.2037, 1e-4)])
def test_a_window_narrower_than_the_first_grid_step_is_found(centre, half):
    # s = 2 + half² − (α − centre)²: one critical point exactly for |α − centre| < half, three outside
    cc = critical_count_changes(_cubic_jet(lambda a: 2 + half ** 2 - (a - centre) ** 2, lambda a: -2 * (a - centre)), 0, 1)
    np.testing.assert_allclose(cc.alphas, [centre - half, centre + half], atol=1e-9)
    assert cc.counts == [3, 1, 3] and cc.kinds == ["fold", "fold"]
    grid = np.linspace(0, 1, 41)  # the search's first α grid: a count on it never sees the window
    assert all(np.sum(np.abs(np.roots([1, 0, -3, 2 + half ** 2 - (a - centre) ** 2]).imag) < 1e-7) == 3 for a in grid)

FIG1_CHANGES = [0.036726, 0.039449, 0.146494, 0.197196, 0.203287, 0.250766, 0.329698]

def test_fig1_change_points_bracketed_by_the_hand_formulas():
    cc = critical_count_changes(fig1_tasks, 0.0, 0.4)
    assert cc.kinds == ["fold"] * 7 and cc.counts == [1, 3, 1, 3, 5, 3, 5, 7]
    np.testing.assert_allclose(cc.alphas, FIG1_CHANGES, atol=1e-6)
    for a, w0 in zip(cc.alphas, cc.points):
        # the local extremum of F′ at the fold (a root of the hand-written F″) changes sign between α* ∓ 1e-6
        vals = []
        for b in (a - 1e-6, a + 1e-6):
            xs = np.linspace(w0 - 2e-3, w0 + 2e-3, 801); v = _fig1_by_hand(xs, b)[2]
            k = np.flatnonzero(np.diff(np.sign(v))); k = k[np.argmin(np.abs(xs[k] - w0))]
            vals.append(_fig1_by_hand(brentq(lambda x: _fig1_by_hand(x, b)[2], xs[k], xs[k + 1], xtol=1e-14), b)[1])
        assert vals[0] * vals[1] < 0
    w = np.linspace(-10, 10, 500_001)
    for (lo, hi, n) in cc.intervals:  # the counts, as sign changes of the hand-written F′ at each midpoint
        assert np.sum(np.diff(np.sign(_fig1_by_hand(w, (lo + hi) / 2)[1])) != 0) == n

def test_fig1_change_points_do_not_depend_on_the_search_grid():
    a = critical_count_changes(fig1_tasks, 0.0, 0.4, grid=(2001, 21))
    b = critical_count_changes(fig1_tasks, 0.0, 0.4, grid=(6001, 61), safety=3.0)
    np.testing.assert_allclose(a.alphas, FIG1_CHANGES, atol=1e-6); np.testing.assert_allclose(b.alphas, a.alphas, atol=1e-9)
    assert a.counts == b.counts

@pytest.mark.parametrize("call, message", [
    (lambda c: conditions(c, np.nan), "alpha must be a finite number"),
    (lambda c: conditions(c, 0.1, -1.0), "eps0 must be"),
    (lambda c: zeta(c, None), "alpha must be a real number"),
    (lambda c: landscape_1d(fig1_tasks, 0.1, 5.0, -5.0), "lo must be < hi"),
    (lambda c: landscape_1d(fig1_tasks, 0.1, n=1), "n must be an integer >= 3"),
    (lambda c: ball(np.zeros(2), -1.0, 3, np.random.default_rng(0)), "radius must be > 0"),
    (lambda c: ball(np.zeros(2), 1.0, 3, None), "rng must be a numpy.random.Generator"),
])
def test_bad_input_is_refused_with_the_arguments_name(call, message):
    "Inputs that used to give NaN bounds, empty landscapes or points outside the ball now raise, naming the argument."
    c = Constants(L=2.0, mu=0.5, sigma=1.0, kappa=0.1, n_points=1, n_pairs=0)
    with pytest.raises((ValueError, TypeError), match=message): call(c)

def test_report_and_constants_refuse_negative_eps0_and_zero_step():
    pool = TaskPool.from_data(squared_loss, np.arange(12.0).reshape(2, 3, 2), np.ones((2, 3)))
    with pytest.raises(ValueError, match="eps0 must be"): theory_report(pool, 0.1, np.zeros((1, 2)), eps0=-1.0)
    with pytest.raises(ValueError, match="h must be > 0"): constants(pool, np.zeros((1, 2)), h=0.0)

def test_theory_report_is_honest_on_the_primary_svm_pool():
    from bimaml_nb.data import load_experiment
    from bimaml_nb.theory import theory_report, ball
    ex = load_experiment("synthetic_svm", 0, loss="hinge", l2=0.0)
    rep = theory_report(ex.pool, ex.alpha, ball(ex.w0, 1.0, 3, np.random.default_rng(0)))
    assert rep.constants.mu <= 0 and not any(rep.applies.values())
    assert all("Assumption 3.2 fails" in c.reason and not c.holds for c in rep.conditions) and "does not apply" in str(rep)

from hypothesis import given, strategies as st

@given(L=st.floats(-1, 10), mu=st.floats(-1, 10), sigma=st.floats(0, 10), kappa=st.floats(0, 10),
       alpha=st.floats(1e-6, 1), eps0=st.floats(1e-6, 10), g0=st.floats(0, 100), eps=st.floats(1e-8, 1))
def test_alpha_bounds_and_times_are_real_and_nonnegative_on_any_constants(L, mu, sigma, kappa, alpha, eps0, g0, eps):
    from bimaml_nb.theory import Constants, conditions, predicted_time_36, predicted_time_41, assumption_failure
    c = Constants(L, mu, sigma, kappa, 1, 0)
    for cond in conditions(c, alpha, eps0):
        b = cond.bound
        assert isinstance(b, float) and (b >= 0) and not np.isnan(b)
        assert cond.holds == (not cond.reason and (alpha < b if cond.strict else alpha <= b))
        if mu <= 0: assert cond.reason and not cond.holds
    for t in (predicted_time_36(c, alpha, g0, eps), predicted_time_41(c, eps0, g0, eps)):
        assert isinstance(t, float) and t >= 0 and not np.isnan(t)
    assert bool(assumption_failure(c)) == (mu <= 0 or L <= 0)

def test_every_alpha_term_with_kappa_and_sigma_positive_against_exact_fractions():
    "L = 1, μ = 1/4 (√μ = 1/2, √(L/μ) = 2), σ = 1/3, κ = 3/2, ε₀ = 1/5: every term of Thms 3.6, 3.8, 3.9, 4.1 by hand."
    from fractions import Fraction as Fr
    from bimaml_nb.theory import Constants, alpha_terms
    L, mu, s, k, e0 = Fr(1), Fr(1, 4), Fr(1, 3), Fr(3, 2), Fr(1, 5)
    T = alpha_terms(Constants(float(L), float(mu), float(s), float(k), 1, 1), float(e0))
    K38, K39 = Fr(1, 4) * (9 / Fr(1, 2) + 5) * s, (Fr(9, 7) * 2 + 1) * s
    exact = {"Theorem 3.6": {"1/(2L)": 1 / (2 * L), "7μ^1.5/(288κσ+232κ√μσ)": 7 * Fr(1, 8) / (288 * k * s + 232 * k * Fr(1, 2) * s),
                             "√(1/15) μ L^-2": None, "√(1/15) μ^0.5 L^-2": None, "(2/15)^(1/3) μ^(1/3) L^(-5/3)": None},
             "Theorem 3.8": {"1/(2L)": 1 / (2 * L), "7μ/(8κ(16K+9σ))": 7 * mu / (8 * k * (16 * K38 + 9 * s))},
             "Theorem 3.9": {"1/(4L)": 1 / (4 * L), "7μ/(8κ(16K+9σ))": 7 * mu / (8 * k * (16 * K39 + 9 * s))},
             "Theorem 4.1": {"1/(2L)": 1 / (2 * L), "7μ/(288κε₀+232κσ)": 7 * mu / (288 * k * e0 + 232 * k * s)}}
    roots = {"√(1/15) μ L^-2": (1 / 15) ** 0.5 / 4, "√(1/15) μ^0.5 L^-2": (1 / 15) ** 0.5 / 2, "(2/15)^(1/3) μ^(1/3) L^(-5/3)": (2 / 15 / 4) ** (1 / 3)}
    assert set(T) == set(exact)
    for thm, terms in exact.items():
        assert set(T[thm]) == set(terms), thm
        for name, v in terms.items():
            assert T[thm][name] == pytest.approx(float(v) if v is not None else roots[name], rel=1e-12), (thm, name)
