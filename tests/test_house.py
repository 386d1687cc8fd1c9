"""The house (one run machinery, chapters in order, an API a newcomer can extend): each defect found in it stays fixed."""
import inspect, subprocess, sys
import numpy as np
import pytest
import bimaml_nb
from bimaml_nb.oracles import TaskPool, squared_loss
from bimaml_nb.runs import Result, Stepper, drive, plot_results
from bimaml_nb.algorithms import maml, bimaml
from bimaml_nb.ode import solve, register_solver, SOLVERS

@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(3)
    return TaskPool.from_data(squared_loss, rng.normal(size=(4, 20, 3)), rng.normal(size=(4, 20)))

def test_repr_counts_steps_not_rows(pool):
    r = maml(pool, np.ones(3), 0.1, 0.05, eps=1e-8, max_iter=5000, record_every=100)
    assert r.status == "converged" and r.steps > 200 and len(r.t) < r.steps / 50
    assert f"after {r.steps} steps ({len(r.t)} rows)" in repr(r)

def test_one_cost_figure(pool):
    for r in (maml(pool, np.ones(3), 0.1, 0.05, eps=1e-8, max_iter=3000, record_every=7),
              solve(pool, np.ones(3), 0.1, "RK45")):
        assert r.total_cost == r.cost[-1] and r.total_wall == r.wall[-1]
        assert not {"total_cost", "total_wall"} & set(r.params)

def test_switch_is_none_without_phase_1(pool):
    assert maml(pool, np.ones(3), 0.1, 0.05, max_iter=20).switch is None
    never = bimaml(pool, np.ones(3), 0.1, 0.05, eps0=0.0, max_iter=20)
    assert never.switch is None and (never.phase == 1).all()
    assert solve(pool, np.ones(3), 0.1, "RK45").switch is None

def test_switch_line_drawn_at_the_switch(pool):
    import matplotlib; matplotlib.use("Agg")
    r = bimaml(pool, 5 * np.ones(3), 0.1, 0.05, eps0=1.0, max_iter=200)
    assert r.switch is not None and r.phase[list(r.t).index(r.switch)] == 2
    top, _ = plot_results([r])
    xs = [line.get_xdata()[0] for line in top.get_lines() if line.get_linestyle() == "--"]
    assert xs == [r.switch]

def test_result_saves_and_loads(pool, tmp_path):
    r = bimaml(pool, np.ones(3), 0.1, 0.05, max_iter=30)
    back = Result.load(r.save(tmp_path / "r.json"))
    assert repr(back) == repr(r) and np.array_equal(back.iterates, r.iterates) and back.params == r.params

def test_typo_is_reported_at_the_users_call(pool):
    with pytest.raises(TypeError, match=r"maml\(\) got an unexpected keyword argument 'max_iters'"):
        maml(pool, np.ones(3), 0.1, 0.05, max_iters=5)
    with pytest.raises(TypeError, match="unexpected option 'h'"):
        solve(pool, np.ones(3), 0.1, "RK45", h=0.1)

def test_help_lists_every_parameter():
    for f in (maml, bimaml, solve, drive):
        params = [p for p in inspect.signature(f).parameters if p not in ("kwargs", "options")]
        assert all(f"  {p}:" in f.__doc__ for p in params), (f.__name__, f.__doc__)

def test_import_bimaml_nb_exposes_the_api():
    assert bimaml_nb.maml is maml and bimaml_nb.solve is solve and bimaml_nb.TaskPool is TaskPool

@pytest.mark.parametrize("module, heavy", [("bimaml_nb.ode", "matplotlib"), ("bimaml_nb.algorithms", "matplotlib"),
                                           ("bimaml_nb", "scipy")])
def test_imports_stay_light(module, heavy):
    code = f"import sys, {module}; print({heavy!r} in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"

def test_methods_are_methods_not_module_functions():
    import bimaml_nb.oracles as o
    from bimaml_nb._modidx import d
    assert not {"f", "F", "grad_F", "sample", "from_data", "from_functions"} & set(o.__all__)
    syms = d["syms"]["bimaml_nb.oracles"]
    assert "bimaml_nb.oracles.TaskPool.grad_F" in syms and "bimaml_nb.oracles.grad_F" not in syms

def test_from_functions_needs_the_dimension():
    with pytest.raises(TypeError):
        TaskPool.from_functions([lambda w: w @ w])

def test_a_new_method_is_one_definition(pool):
    "A stepper (plain gradient descent on f) and a solver (backward-looking Euler) added without touching the package."
    class GDf(Stepper):
        def __init__(self, w0): self.w = w0
        def evaluate(self, record):
            self.g = pool.grad_f(self.w); return bool(np.linalg.norm(self.g) < 1e-9), {"grad_f": self.g}
        def advance(self): self.w, self.t = self.w - 0.3 * self.g, self.t + 1
    r = drive(GDf(np.ones(3)), pool, 0.1, "GD on f", max_steps=2000)
    assert r.status == "converged" and np.linalg.norm(pool.grad_f(r.w)) < 1e-9

    class Half:
        def __init__(self, field, phase, t, y): self.f, self.t, self.y = field.rhs(phase), t, y
        def step(self): self.y = self.y + 0.5 * self.f(self.t, self.y); self.t += 0.5; return self.t, self.y
    register_solver("half-step Euler")(lambda field, phase, t, y, t_max, eps: Half(field, phase, t, y))
    try:
        a = solve(pool, np.ones(3), 0.1, "half-step Euler", max_steps=40)
        b = solve(pool, np.ones(3), 0.1, "Euler", h=0.5, max_steps=40)
        assert np.array_equal(a.iterates, b.iterates)
    finally:
        SOLVERS.pop("half-step Euler")


# --- guarded everywhere: overflow, steppers, saved results -----------------------------------------------------------

def test_oracles_raise_nonfinite_on_overflow_and_runs_call_it_divergence():
    import numpy as np, pytest
    from bimaml_nb.oracles import TaskPool, squared_loss, NonFinite
    from bimaml_nb.algorithms import maml
    rng = np.random.default_rng(0)
    pool = TaskPool.from_data(squared_loss, rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5)))
    for call in (lambda: pool.F(np.ones(2), 1e308), lambda: pool.grad_F(np.ones(2), 1e308), lambda: pool.F_grads(np.ones(2), 1e308)):
        with pytest.raises(NonFinite, match="not finite at this w and alpha"): call()
    r = maml(pool, np.ones(2), 1e200, 0.1, max_iter=5)
    assert r.status == "invalid start" and np.all(np.isfinite(r.w))

def test_kstep_pools_refuse_overflow_bad_draws_and_bad_activations():
    import numpy as np, pytest
    from bimaml_nb.oracles import NonFinite
    from bimaml_nb.kstep import MLP, model_loss, TaskDistribution, KStepPool
    from bimaml_nb.sinusoid import draw_sinusoid, few_shot_mse
    X, y, Xq, yq = draw_sinusoid(3, np.random.default_rng(0))
    net = MLP((1, 8, 1)); pool = KStepPool(model_loss(net), X, y, Xq, yq, K=2); w = net.init(np.random.default_rng(1))
    for call in (lambda: pool.grad_F(w, 1e100), lambda: few_shot_mse(pool, w, 1e100, 5)):
        with pytest.raises(NonFinite): call()
    with pytest.raises(ValueError, match="n = 4 tasks"): TaskDistribution(lambda n, rng: draw_sinusoid(n + 1, rng), model_loss(net), n_eval=4)
    with pytest.raises(ValueError, match="tuple \\(X, y, Xq, yq\\)"): TaskDistribution(lambda n, rng: draw_sinusoid(n, rng)[:2], model_loss(net), n_eval=4)
    with pytest.raises(ValueError, match="same shape"): MLP((1, 3, 1), lambda z: z.sum())
    with pytest.raises(ValueError, match="shots must be an integer >= 1"): draw_sinusoid(2, np.random.default_rng(0), shots=-1)
    with pytest.raises(ValueError, match="non-finite values at W = 0"): KStepPool(lambda W, X, y: np.nan * y, X, y, dim=3)

def test_drive_refuses_malformed_known_values_and_time_running_backwards():
    import numpy as np, pytest
    from bimaml_nb.oracles import TaskPool, squared_loss
    from bimaml_nb.runs import Stepper, drive
    rng = np.random.default_rng(0)
    pool = TaskPool.from_data(squared_loss, rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5)))
    class S(Stepper):
        def __init__(self, known, dt=1.0): self.w, self.t, self.known, self.dt = np.zeros(2), 0.0, known, dt
        def evaluate(self, record): return False, dict(self.known)
        def advance(self): self.t += self.dt
    with pytest.raises(TypeError, match=r"known\['grad_F'\] of shape \(3,\)"): drive(S(dict(grad_F=np.ones(3))), pool, 0.1, "x", 3)
    with pytest.raises(TypeError, match="keys must be among"): drive(S(dict(loss=1.0)), pool, 0.1, "x", 3)
    with pytest.raises(ValueError, match="moved t backwards"): drive(S({}, dt=-1.0), pool, 0.1, "x", 3)
    assert drive(S({}), pool, 0.1, "x", 3).status == "budget"

def test_results_save_as_npz_and_without_iterates_round_trip_exactly(tmp_path):
    import numpy as np
    from bimaml_nb.data import synthetic_regression
    from bimaml_nb.algorithms import bimaml
    from bimaml_nb.runs import Result
    ex = synthetic_regression()
    r = bimaml(ex.pool, ex.w0, ex.alpha, ex.beta, max_iter=30, record_every=1)
    for name, keep in (("a.npz", True), ("b.npz", False), ("c.json", False)):
        b = Result.load(r.save(tmp_path / name, iterates=keep))
        for f in ("t", "F", "grad_F_norm", "grad_f_norm", "phase", "cost", "cpu"): np.testing.assert_array_equal(getattr(b, f), getattr(r, f))
        np.testing.assert_array_equal(b.iterates, r.iterates if keep else r.iterates[-1:])
        assert (b.switch, b.status, b.params, b.steps) == (r.switch, r.status, r.params, r.steps)
    assert (tmp_path / "b.npz").stat().st_size < (tmp_path / "a.npz").stat().st_size
