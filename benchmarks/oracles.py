"""Oracle timings beside hand-written numpy closed forms, on the paper's pool sizes (issue 10).

Run:  python benchmarks/oracles.py [--repeats R] [--out DIR] [--only P1,P3] [--no-general]

Every figure is a median over R repeats of CPU time (`time.process_time`) with one BLAS thread (a
repeat of a call shorter than 3 ms runs it several times and divides);
wall times are reported separately. Each oracle is timed alternately with a vectorised numpy
closed form of the same quantity, in the same process, after checking that both give the same
numbers. Writes DIR/oracles.md (the tables) and DIR/oracles.json (every figure). Nothing here is a
test: the figures depend on the machine and its load.
"""
import os
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[_v] = "1"  # before numpy loads
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")  # JAX on one thread too
import argparse, json, platform, sys, time, tracemalloc
from pathlib import Path
import numpy as np

try:
    from threadpoolctl import threadpool_limits, threadpool_info
    threadpool_limits(1)
except ImportError: threadpool_info = lambda: "threadpoolctl not installed; pinned by environment variables"

from bimaml_nb.oracles import TaskPool, squared_loss, logistic_loss, HVP_COST, HVP_F_COST, GRAD_F_COST

ALPHA, L2 = 0.3, 0.1
PROBLEMS = {  # name: (description, loss kind, M, n, d)
    "P1": ("least squares (paper, synthetic)", "lsq", 10, 100, 20),
    "P2": ("logistic + ridge (MNIST size)", "logistic", 5, 200, 784),
    "P3": ("logistic + ridge (SVM size)", "logistic", 50, 300, 20),
    "P4": ("least squares, large d", "lsq", 20, 500, 5000),
    "P5": ("least squares, many tasks", "lsq", 10_000, 50, 20),
    "P6": ("logistic + ridge, many tasks", "logistic", 10_000, 50, 20),
}

def make_data(kind, M, n, d, seed):
    "Fixed-seed data: Gaussian features scaled by 1/sqrt(d); linear targets with noise, or ±1 labels."
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, n, d)) / np.sqrt(d)
    if kind == "lsq": y = np.einsum("mnd,md->mn", X, rng.normal(size=(M, d))) + rng.normal(size=(M, n))
    else: y = np.where(np.einsum("mnd,md->mn", X, rng.normal(size=(M, d))) + 0.5 * rng.normal(size=(M, n)) > 0, 1.0, -1.0)
    return X, y, rng.normal(size=d)

# ---- the numpy closed forms, written by hand for uniform p: the yardstick --------------------------
def derivs(kind, z, y):
    "ℓ'(z, y) and ℓ''(z, y) of the squared or the logistic loss."
    if kind == "lsq": return z - y, np.ones_like(z)
    s = 1.0 / (1.0 + np.exp(y * z))  # σ(−yz)
    return -y * s, s * (1.0 - s)

def np_grad_f(kind, X, y, w):
    M, n, d = X.shape
    X2 = X.reshape(-1, d)
    r = derivs(kind, (X2 @ w).reshape(M, n), y)[0]
    return r.ravel() @ X2 / (M * n) + (L2 * w if kind != "lsq" else 0)

def np_meta(kind, X, y, w, alpha, order="exact", delta=1e-5, value=False):
    "(F, ∇F, ∇f) of the whole pool in vectorised numpy: batched matrix-vector products over (M, n, d)."
    M, n, d = X.shape
    lam = L2 if kind != "lsq" else 0.0
    X2 = X.reshape(-1, d)
    z0 = (X2 @ w).reshape(M, n)
    r0, h0 = derivs(kind, z0, y)
    G0 = np.matmul(r0[:, None, :], X)[:, 0] / n + lam * w
    W1 = w - alpha * G0
    z1 = np.matmul(X, W1[:, :, None])[..., 0]
    r1 = derivs(kind, z1, y)[0]
    F = None
    if value:
        ell = 0.5 * (z1 - y) ** 2 if kind == "lsq" else np.logaddexp(0, -y * z1)
        F = ell.mean() + 0.5 * lam * (W1 ** 2).sum(1).mean()
    if order == "first": return F, r1.ravel() @ X2 / (M * n) + lam * W1.mean(0), G0.mean(0)
    g = np.matmul(r1[:, None, :], X)[:, 0] / n + lam * W1
    if order == "exact":
        R = r1 - alpha * h0 * np.matmul(X, g[:, :, None])[..., 0]
        return F, R.ravel() @ X2 / (M * n) + lam * (W1 - alpha * g).mean(0), G0.mean(0)
    norm = np.linalg.norm(g, axis=1, keepdims=True); u = g / np.where(norm > 0, norm, 1)
    zu = delta * np.matmul(X, u[:, :, None])[..., 0]
    R = r1 - alpha * (derivs(kind, z0 + zu, y)[0] - derivs(kind, z0 - zu, y)[0]) * norm / (2 * delta)
    return F, R.ravel() @ X2 / (M * n) + lam * (W1 - alpha * g).mean(0), G0.mean(0)

# ---- JAX comparator (optional: pip install ".[bench]") ---------------------------------------------
def jax_grad_F(kind, X, y, alpha):
    "A jit-compiled exact meta-gradient, or None when jax is not importable."
    try:
        import jax, jax.numpy as jnp
    except ImportError: return None
    jax.config.update("jax_enable_x64", True)
    lam = L2 if kind != "lsq" else 0.0
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    def fi(w, Xi, yi):
        z = Xi @ w
        ell = 0.5 * (z - yi) ** 2 if kind == "lsq" else jnp.logaddexp(0.0, -yi * z)
        return ell.mean() + 0.5 * lam * w @ w
    Fi = lambda w, Xi, yi: fi(w - alpha * jax.grad(fi)(w, Xi, yi), Xi, yi)
    F = lambda w: jax.vmap(Fi, in_axes=(None, 0, 0))(w, Xj, yj).mean()
    g = jax.jit(jax.grad(F))
    return lambda w: np.asarray(g(w).block_until_ready())

# ---- timing ---------------------------------------------------------------------------------------
def timed(funs, repeats, sample=0.003):
    "Median CPU and wall seconds per call of each function, calling them alternately; calls too short to time are repeated within a sample of about `sample` seconds."
    loops = []
    for f in funs:  # warm-up, and how many calls make one timed sample
        t = time.perf_counter(); f(); loops.append(max(1, int(sample / max(time.perf_counter() - t, 1e-7))))
    cpu, wall = [[] for _ in funs], [[] for _ in funs]
    for _ in range(repeats):
        for k, f in enumerate(funs):
            c, t = time.process_time(), time.perf_counter()
            for _ in range(loops[k]): f()
            cpu[k].append((time.process_time() - c) / loops[k]); wall[k].append((time.perf_counter() - t) / loops[k])
    return [float(np.median(c)) for c in cpu], [float(np.median(t)) for t in wall]

def peak_mib(f):
    "Peak memory allocated while f runs, beyond what was allocated before (tracemalloc), in MiB."
    tracemalloc.start(); f(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    return peak / 2 ** 20

def run_problem(name, repeats, general):
    desc, kind, M, n, d = PROBLEMS[name]
    X, y, w = make_data(kind, M, n, d, seed=int(name[1:]))
    loss = squared_loss if kind == "lsq" else logistic_loss(L2)
    build_mib = peak_mib(lambda: TaskPool.from_data(loss, X, y))
    pool = TaskPool.from_data(loss, X, y)
    assert pool._engine.X is X, "the pool copied the data"
    rec = dict(name=name, desc=desc, M=M, n=n, d=d, data_mib=X.nbytes / 2 ** 20, build_extra_mib=build_mib, ops={})
    # the oracles and their closed forms give the same numbers
    for order in ("exact", "first", "hessian_free"):
        np.testing.assert_allclose(pool.grad_F(w, ALPHA, order), np_meta(kind, X, y, w, ALPHA, order)[1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(pool.grad_f(w), np_grad_f(kind, X, y, w), rtol=1e-10, atol=1e-13)
    v, V = np.ones(d) / np.sqrt(d), np.ones((M, d)) / np.sqrt(d)
    ops = {
        "grad_f": (lambda: pool.grad_f(w), lambda: np_grad_f(kind, X, y, w)),
        "grad_F exact": (lambda: pool.grad_F(w, ALPHA), lambda: np_meta(kind, X, y, w, ALPHA)),
        "grad_F first": (lambda: pool.grad_F(w, ALPHA, "first"), lambda: np_meta(kind, X, y, w, ALPHA, "first")),
        "grad_F hessian_free": (lambda: pool.grad_F(w, ALPHA, "hessian_free"), lambda: np_meta(kind, X, y, w, ALPHA, "hessian_free")),
        "F_grads": (lambda: pool.F_grads(w, ALPHA), lambda: np_meta(kind, X, y, w, ALPHA, value=True)),
        "task_grads": (lambda: pool.task_grads(w), None),
        "task_hvps": (lambda: pool.task_hvps(w, V), None),
        "hvp_f": (lambda: pool.hvp_f(w, v), None),
    }
    ops["hvp_F"] = (lambda: pool.hvp_F(w, v, ALPHA), None)
    grad_f, exact = ops["grad_f"][0], ops["grad_F exact"][0]
    for op, (oracle, closed) in ops.items():
        funs = [oracle] + ([closed] if closed else []) + [grad_f, exact]  # alongside: ratios from the same moments
        cpu, wall = timed(funs, repeats)
        snap = pool.counter.snapshot(); oracle(); charged = pool.counter.cost_since(snap)
        rec["ops"][op] = dict(cpu=cpu[0], wall=wall[0], numpy_cpu=cpu[1] if closed else None,
                              numpy_wall=wall[1] if closed else None, charged=charged, peak_mib=peak_mib(oracle),
                              ratio_to_grad_f=cpu[0] / cpu[-2], ratio_to_exact=cpu[0] / cpu[-1])
    jg = jax_grad_F(kind, X, y, ALPHA)
    if jg is not None:
        np.testing.assert_allclose(jg(w), pool.grad_F(w, ALPHA), rtol=1e-8, atol=1e-12)
        (c,), (t,) = timed([lambda: jg(w)], repeats); rec["jax_cpu"], rec["jax_wall"] = c, t
    if general:  # the general (autograd) engine on the same data: the implementation before issue 10
        ref = TaskPool.from_data(loss, X, y, fast=False)
        reps = max(3, repeats // 3)
        (c1, c2), _ = timed([lambda: ref.grad_f(w), lambda: ref.grad_F(w, ALPHA)], reps)
        rec["general_grad_f_cpu"], rec["general_grad_F_cpu"] = c1, c2
    return rec

def targets(rec):
    "The issue's targets for this problem, as (text, measured, met)."
    ops, out = rec["ops"], []
    e = ops["grad_F exact"]
    lim = 1.1 if rec["name"] == "P4" else 2.0
    if rec["name"] in ("P1", "P2", "P3", "P4"):
        out.append((f"exact grad_F ≤ {lim}× numpy", f"{e['cpu'] / e['numpy_cpu']:.2f}×", e["cpu"] / e["numpy_cpu"] <= lim))
        out.append(("grad_F ÷ grad_f ≤ 3.3", f"{e['ratio_to_grad_f']:.2f}", e["ratio_to_grad_f"] <= 3.3))
        hf = ops["grad_F hessian_free"]["ratio_to_exact"]
        out.append(("hessian_free ≤ exact", f"{hf:.2f}×", hf <= 1.05))
    if rec["name"] in ("P5", "P6"):
        out.append(("exact grad_F ≤ 20 ms", f"{1e3 * e['cpu']:.1f} ms", e["cpu"] <= 0.020))
    if "jax_cpu" in rec and rec["name"] in ("P2", "P3", "P4"):
        out.append(("exact grad_F ≤ 2× JAX jit", f"{e['cpu'] / rec['jax_cpu']:.2f}×", e["cpu"] <= 2 * rec["jax_cpu"]))
    return out

def markdown(recs, repeats, jax_note):
    ms = lambda s: f"{1e3 * s:.3g}"
    lines = [f"Median of {repeats} repeats, CPU milliseconds (`time.process_time`, one BLAS thread); "
             "×numpy = oracle ÷ the hand-written numpy closed form timed alternately in the same process.", ""]
    lines += ["| problem | M×n×d | grad_f | ×numpy | grad_F exact | ×numpy | first | hessian_free | F_grads | ×numpy | exact ÷ grad_f | JAX jit | general engine grad_F |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in recs:
        o = r["ops"]; g, e, F = o["grad_f"], o["grad_F exact"], o["F_grads"]
        lines.append(f"| {r['name']} {r['desc']} | {r['M']}×{r['n']}×{r['d']} | {ms(g['cpu'])} | {g['cpu'] / g['numpy_cpu']:.2f} | "
                     f"{ms(e['cpu'])} | {e['cpu'] / e['numpy_cpu']:.2f} | {ms(o['grad_F first']['cpu'])} | {ms(o['grad_F hessian_free']['cpu'])} | "
                     f"{ms(F['cpu'])} | {F['cpu'] / F['numpy_cpu']:.2f} | {e['ratio_to_grad_f']:.2f} | "
                     f"{ms(r['jax_cpu']) if 'jax_cpu' in r else '–'} | {ms(r['general_grad_F_cpu']) if 'general_grad_F_cpu' in r else '–'} |")
    lines += ["", "Wall milliseconds (same runs): " + "; ".join(
        f"{r['name']} grad_f {ms(r['ops']['grad_f']['wall'])}, grad_F {ms(r['ops']['grad_F exact']['wall'])}" for r in recs)]
    lines += ["", "Cost model: CPU time ÷ that of grad_f timed alternately with it, against the gradient-equivalents the counter charges.", "",
              "| problem | " + " | ".join(recs[0]["ops"]) + " |", "|---|" + "---|" * len(recs[0]["ops"])]
    for r in recs:
        lines.append(f"| {r['name']} | " + " | ".join(
            f"{o['ratio_to_grad_f']:.2f} (charged {o['charged']:g})" if op in r["ops"] else "–"
            for op, o in ((op, r["ops"].get(op)) for op in recs[0]["ops"])) + " |")
    lines += ["", "Memory: data size; extra memory to build the pool; peak extra memory of one call (tracemalloc).", "",
              "| problem | data MiB | build extra MiB | grad_F exact peak MiB | F_grads peak MiB |", "|---|---|---|---|---|"]
    for r in recs:
        lines.append(f"| {r['name']} | {r['data_mib']:.1f} | {r['build_extra_mib']:.2f} | {r['ops']['grad_F exact']['peak_mib']:.2f} | {r['ops']['F_grads']['peak_mib']:.2f} |")
    lines += ["", "Targets (issue 10):", "", "| problem | target | measured | met |", "|---|---|---|---|"]
    for r in recs:
        for text, got, ok in targets(r): lines.append(f"| {r['name']} | {text} | {got} | {'yes' if ok else '**no**'} |")
    lines += ["", jax_note]
    return "\n".join(lines)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=21, help="timed repeats per oracle (median reported)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="folder for oracles.md and oracles.json")
    ap.add_argument("--only", default=",".join(PROBLEMS), help="comma-separated problems, e.g. P1,P3")
    ap.add_argument("--no-general", action="store_true", help="skip timing the general (autograd) engine")
    a = ap.parse_args(argv)
    try:
        import jax; jax_note = f"JAX {jax.__version__} jit comparator included."
    except ImportError: jax_note = 'JAX comparator skipped: jax is not importable (install it with `pip install -e ".[bench]"`).'
    recs, load0 = [], os.getloadavg()
    for name in a.only.split(","):
        recs.append(run_problem(name.strip(), a.repeats, not a.no_general))
        print(f"{name}: done", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    md = markdown(recs, a.repeats, jax_note) + (f"\n\nMachine: {os.cpu_count()} CPUs, load average {load0[0]:.1f} before and "
                                                 f"{load1[0]:.1f} after the run (other processes share it: CPU time is the figure to read).")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "oracles.md").write_text(md + "\n")
    info = threadpool_info()
    threads = [{k: v for k, v in lib.items() if k != "filepath"} for lib in info] if isinstance(info, list) else info
    meta = dict(repeats=a.repeats, python=sys.version.split()[0], numpy=np.__version__, machine=platform.machine(),
                cpus=os.cpu_count(), load_before=load0, load_after=os.getloadavg(), threads=threads,
                constants=dict(HVP_COST=HVP_COST, GRAD_F_COST=GRAD_F_COST, HVP_F_COST=HVP_F_COST))
    (a.out / "oracles.json").write_text(json.dumps(dict(meta=meta, problems=recs), indent=1) + "\n")
    print(md)

if __name__ == "__main__":
    main()
