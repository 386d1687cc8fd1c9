"""Median times of grad_f and exact grad_F on the paper's pool sizes, beside a per-task loop with full Hessians.

Run: python benchmarks/oracles.py [--repeats R]. Prints a markdown table; nothing here is a test.
"""
import argparse, time, tracemalloc
import numpy as np
import autograd.numpy as anp
from autograd import grad, hessian
from bimaml_nb.oracles import TaskPool, squared_loss, logistic_loss

SIZES = [  # name, loss, M, n, d
    ("least squares", "lsq", 10, 100, 20),
    ("classification (MNIST size)", "logistic", 5, 200, 784),
    ("classification (SVM size)", "logistic", 50, 300, 20),
    ("least squares, large d", "lsq", 20, 500, 5000),
]
LOOP_MAX_D = 784  # the full-Hessian loop is skipped above this d (its Hessians alone would be d*d*8 bytes each)

def make_pool(kind, M, n, d, rng):
    "A pool of the given size; returns it with its per-sample loss and data."
    X = rng.normal(size=(M, n, d)) / np.sqrt(d)
    if kind == "lsq": loss, y = squared_loss, (X @ rng.normal(size=(M, d, 1)))[..., 0] + rng.normal(size=(M, n))
    else: loss, y = logistic_loss(0.1), np.sign(rng.normal(size=(M, n)))
    return TaskPool.from_data(loss, X, y), loss, X, y

def median_time(fun, repeats):
    fun()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fun(); times.append(time.perf_counter() - t)
    return float(np.median(times))

def loop_grad_F(loss, X, y, p, w, alpha):
    "The textbook implementation: one task at a time, with the task's full d×d Hessian."
    out = np.zeros_like(w)
    for Xi, yi, pi in zip(X, y, p):
        fi = lambda v: anp.mean(loss(v, Xi, yi))
        g = grad(fi)
        out += pi * (np.eye(len(w)) - alpha * hessian(fi)(w)) @ g(w - alpha * g(w))
    return out

def main(repeats):
    rng = np.random.default_rng(0)
    print(f"median of {repeats} repeats, seconds; ratios are against the same run's timings\n")
    print("| pool | M × n × d | grad_f | grad_F exact | grad_F / grad_f | per-task loop + full Hessians | loop / grad_F | peak memory of one grad_F |")
    print("|---|---|---|---|---|---|---|---|")
    for name, kind, M, n, d in SIZES:
        pool, loss, X, y = make_pool(kind, M, n, d, rng)
        w, alpha = rng.normal(size=d), 0.3
        t_f = median_time(lambda: pool.grad_f(w), repeats)
        t_F = median_time(lambda: pool.grad_F(w, alpha), repeats)
        tracemalloc.start(); pool.grad_F(w, alpha); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
        loop, vs_loop = "skipped (d×d too large)", "–"
        if d <= LOOP_MAX_D:
            np.testing.assert_allclose(loop_grad_F(loss, X, y, pool.p, w, alpha), pool.grad_F(w, alpha), rtol=1e-8, atol=1e-12)
            t_loop = median_time(lambda: loop_grad_F(loss, X, y, pool.p, w, alpha), max(1, repeats // 7))
            loop, vs_loop = f"{t_loop:.4f}", f"{t_loop / t_F:.0f}×"
        print(f"| {name} | {M} × {n} × {d} | {t_f:.4f} | {t_F:.4f} | {t_F / t_f:.2f} | {loop} | {vs_loop} | "
              f"{peak / 2**20:.1f} MiB (data {X.nbytes / 2**20:.0f} MiB; one d×d array {d * d * 8 / 2**20:.1f} MiB) |", flush=True)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=21, help="timed repeats per oracle (median reported)")
    main(ap.parse_args().repeats)
