"""CPU time of the exact K-step MAML meta-gradient on MLPs: the package's closed-form engine (`FastMLP`, what a
`KStepPool` of an MLP's `model_loss` uses), its autograd path (`model_loss(..., fast=False)`), a hand-fused numpy
closed form (two ReLU hidden layers, K = 1, every step written out) and JAX jit of the unrolled F_K (when importable).

Run:  python benchmarks/networks.py [--repeats R] [--out DIR]

Medians of CPU time (`time.process_time`) over R interleaved repeats, one BLAS thread, float64; a repeat of a call
shorter than 10 ms runs it several times and divides. Every method is first checked to give the package's numbers
to 1e-10. Writes DIR/networks.md and DIR/networks.json. Nothing here is a test: the figures depend on the machine.
"""
import os
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[_v] = "1"  # before numpy loads
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
import argparse, json, platform, time
from pathlib import Path
import numpy as np
try:
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except ImportError: jax = None
from bimaml_nb.kstep import MLP, model_loss, KStepPool

C = 1.0  # "mse"
CASES = [("1-40-40-1, K = 1", (1, 40, 40, 1), 1), ("1-40-40-1, K = 5", (1, 40, 40, 1), 5), ("1-256-256-1, K = 1", (1, 256, 256, 1), 1)]


def sinusoids(M, n_s, n_q, rng):
    "Sinusoid regression tasks y = A sin(x - phi), x ~ U(-5, 5): support and query sets."
    A, phi = rng.uniform(0.1, 5.0, (M, 1, 1)), rng.uniform(0, np.pi, (M, 1, 1))
    X, Xq = rng.uniform(-5, 5, (M, n_s, 1)), rng.uniform(-5, 5, (M, n_q, 1))
    return X, (A * np.sin(X - phi))[..., 0], Xq, (A * np.sin(Xq - phi))[..., 0]


def hand_fused(w, alpha, X, y, Xq, yq, p, h=40):
    "F_1, exact grad F_1 and grad f for a 1-h-h-1 relu MLP, 'mse', every step written out (K = 1)."
    M, n = y.shape; k = 2 * C / n; d = w.size; o2, o3 = 2 * h, 2 * h + (h + 1) * h
    A1, A2, a3 = w[:o2].reshape(2, h), w[o2:o3].reshape(h + 1, h), w[o3:]
    # support forward at the shared w (2-D matmuls); ones columns carry the biases
    H1 = np.empty((M, n, h + 1)); H1[..., h] = 1.0; H2 = np.empty((M, n, h + 1)); H2[..., h] = 1.0
    z = X * A1[0]; z += A1[1]; h1 = H1[..., :h]; np.maximum(z, 0.0, out=h1); m1 = (z > 0.0).astype(float)
    z = (H1.reshape(-1, h + 1) @ A2).reshape(M, n, h); h2 = H2[..., :h]; np.maximum(z, 0.0, out=h2); m2 = (z > 0.0).astype(float)
    e = H2 @ a3; e -= y; e *= k
    # per-task support gradients, written into the blocks of G
    G = np.empty((M, d)); G1, G2, G3 = G[:, :o2].reshape(M, 2, h), G[:, o2:o3].reshape(M, h + 1, h), G[:, o3:]
    np.matmul(e[:, None, :], H2, out=G3[:, None, :])
    g2 = e[..., None] * a3[:h]; g2 *= m2
    np.matmul(H1.transpose(0, 2, 1), g2, out=G2)
    g1 = (g2.reshape(-1, h) @ A2[:h].T).reshape(M, n, h); g1 *= m1
    np.matmul(X.transpose(0, 2, 1), g1, out=G1[:, :1]); g1.sum(1, out=G1[:, 1])
    grad_f = p @ G
    G *= -alpha; G += w  # G now holds U = w - alpha G
    U1, U2, u3 = G1, G2, G3
    # query forward and p-weighted query gradients at U (per-task matmuls)
    Q1 = np.empty((M, n, h + 1)); Q1[..., h] = 1.0; Q2 = np.empty((M, n, h + 1)); Q2[..., h] = 1.0
    z = Xq * U1[:, :1]; z += U1[:, 1:]; q1 = Q1[..., :h]; np.maximum(z, 0.0, out=q1); qm1 = (z > 0.0).astype(float)
    z = Q1 @ U2; q2 = Q2[..., :h]; np.maximum(z, 0.0, out=q2); qm2 = (z > 0.0).astype(float)
    r = np.matmul(Q2, u3[..., None])[..., 0]; r -= yq
    F = C / n * float(p @ np.einsum("mn,mn->m", r, r))
    r *= k * p[:, None]
    V = np.empty((M, d)); V1, V2, V3 = V[:, :o2].reshape(M, 2, h), V[:, o2:o3].reshape(M, h + 1, h), V[:, o3:]
    np.matmul(r[:, None, :], Q2, out=V3[:, None, :])
    qg2 = r[..., None] * u3[:, None, :h]; qg2 *= qm2
    np.matmul(Q1.transpose(0, 2, 1), qg2, out=V2)
    qg1 = qg2 @ U2[:, :h].transpose(0, 2, 1); qg1 *= qm1
    np.matmul(Xq.transpose(0, 2, 1), qg1, out=V1[:, :1]); qg1.sum(1, out=V1[:, 1])
    # sum_i H_i(w) V_i by the R-operator at the shared w, reduced over tasks by 2-D matmuls
    R1 = X * V1[:, :1]; R1 += V1[:, 1:]; R1 *= m1
    R2 = H1 @ V2; R2 += (R1.reshape(-1, h) @ A2[:h]).reshape(M, n, h); R2 *= m2
    Rg3 = np.matmul(H2, V3[..., None])[..., 0]; Rg3 += (R2.reshape(-1, h) @ a3[:h]).reshape(M, n); Rg3 *= k
    Rg2 = Rg3[..., None] * a3[:h]; Rg2 += e[..., None] * V3[:, None, :h]; Rg2 *= m2
    Rg1 = (Rg2.reshape(-1, h) @ A2[:h].T).reshape(M, n, h); Rg1 += g2 @ V2[:, :h].transpose(0, 2, 1); Rg1 *= m1
    gF = V.sum(0); RH = np.empty(d); R_1, R_2, R_3 = RH[:o2].reshape(2, h), RH[o2:o3].reshape(h + 1, h), RH[o3:]
    R_1[0] = X.ravel() @ Rg1.reshape(-1, h); R_1[1] = Rg1.reshape(-1, h).sum(0)
    np.matmul(H1.reshape(-1, h + 1).T, Rg2.reshape(-1, h), out=R_2); R_2[:h] += R1.reshape(-1, h).T @ g2.reshape(-1, h)
    np.matmul(H2.reshape(-1, h + 1).T, Rg3.ravel(), out=R_3); R_3[:h] += R2.reshape(-1, h).T @ e.ravel()
    RH *= alpha; gF -= RH
    return F, gF, grad_f


def jax_meta_grad(sizes, alpha, K, tree=True):
    """jit of value_and_grad of the unrolled F_K (vmap over tasks) with grad f as aux; parameters as a pytree of
    per-layer (W, b) (tree, the faster) or sliced from the flat vector inside the loss (flat: slice transposes)."""
    shapes = list(zip(sizes[:-1], sizes[1:]))
    def unflat(w):
        out, k = [], 0
        for a, b in shapes: out.append((w[k:k + a * b].reshape(a, b), w[k + a * b:k + a * b + b])); k += a * b + b
        return out
    def flat(P): return jnp.concatenate([jnp.concatenate([Wl.ravel(), bl]) for Wl, bl in P])
    def net(P, X):
        h = X
        for l, (Wl, bl) in enumerate(unflat(P) if not tree else P):
            h = h @ Wl + bl
            if l < len(shapes) - 1: h = jax.nn.relu(h)
        return h[:, 0]
    def f(P, X, y): return C * jnp.mean((net(P, X) - y) ** 2)
    step = lambda U, G: jax.tree.map(lambda a, g: a - alpha * g, U, G)
    def F(P, X, y, Xq, yq, p):
        G0 = jax.vmap(jax.grad(f), (None, 0, 0))(P, X, y)
        U = step(P, G0)
        for _ in range(K - 1): U = step(U, jax.vmap(jax.grad(f))(U, X, y))
        return p @ jax.vmap(f)(U, Xq, yq), jax.tree.map(lambda g: jnp.tensordot(p, g, 1), G0)
    vg = jax.value_and_grad(F, has_aux=True)
    @jax.jit
    def meta_grad(w, X, y, Xq, yq, p):
        if not tree: return vg(w, X, y, Xq, yq, p)
        (F_, grad_f), gF = vg(unflat(w), X, y, Xq, yq, p)
        return (F_, flat(grad_f)), flat(gF)
    def run(w, X, y, Xq, yq, p):
        (F_, grad_f), gF = meta_grad(w, X, y, Xq, yq, p)
        return float(F_), np.asarray(gF), np.asarray(grad_f)
    return run


def bench(sizes, K, repeats=21, M=25, shots=10, alpha=0.01, seed=0):
    "Median CPU ms per exact meta-gradient (F, ∇F and ∇f) for every method on one case, after checking they agree."
    rng = np.random.default_rng(seed)
    X, y, Xq, yq = sinusoids(M, shots, shots, rng)
    p = rng.uniform(0.5, 1.5, M); p /= p.sum()
    net = MLP(sizes, "relu"); w = net.init(rng)
    fast, slow = (KStepPool(model_loss(net, "mse", fast=f), X, y, Xq, yq, K=K, p=p) for f in (True, False))
    methods = {"bimaml_nb (FastMLP)": lambda: fast.F_grads(w, alpha), "bimaml_nb (autograd)": lambda: slow.F_grads(w, alpha)}
    if K == 1 and len(sizes) == 4 and sizes[1] == sizes[2]: methods["hand-fused numpy"] = lambda: hand_fused(w, alpha, X, y, Xq, yq, p, sizes[1])
    if jax is not None: methods["JAX jit"] = (lambda f: lambda: f(w, X, y, Xq, yq, p))(jax_meta_grad(sizes, alpha, K))
    ref = fast.F_grads(w, alpha)
    for name, fn in methods.items():  # agreement (and JAX compilation) before timing
        for a, b in zip(fn(), ref): assert np.max(np.abs(np.asarray(a) - b)) <= 1e-10 * np.max(np.abs(b)), name
    inner = {}
    for name, fn in methods.items():  # calls per sample: at least ~10 ms of work
        t0 = time.process_time(); fn(); inner[name] = max(1, int(0.01 / max(time.process_time() - t0, 1e-5)))
    times = {name: [] for name in methods}
    for _ in range(repeats):  # interleaved
        for name, fn in methods.items():
            t0 = time.process_time()
            for _ in range(inner[name]): fn()
            times[name].append((time.process_time() - t0) / inner[name] * 1e3)
    return net.n_params, {name: float(np.median(t)) for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=21); ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args()
    rows = []
    for label, sizes, K in CASES:
        d, t = bench(sizes, K, a.repeats)
        rows.append(dict(case=label, d=d, ms=t)); print(label, d, t, flush=True)
    names = ["bimaml_nb (FastMLP)", "bimaml_nb (autograd)", "hand-fused numpy", "JAX jit"]
    md = [f"Exact K-step meta-gradient (F, ∇F, ∇f) of 25 sinusoid tasks, 10 support + 10 query points, float64, one thread: "
          f"median CPU ms over {a.repeats} interleaved repeats ({platform.machine()}, load average {os.getloadavg()[0]:.1f}).", "",
          "| case | d | " + " | ".join(names) + " | FastMLP ÷ hand-fused | FastMLP ÷ JAX | autograd ÷ FastMLP |", "|---" * 8 + "|"]
    for r in rows:
        t, f = r["ms"], r["ms"]["bimaml_nb (FastMLP)"]
        cell = lambda n: f"{t[n]:.3g}" if n in t else "–"
        ratio = lambda n: f"{f / t[n]:.2f}" if n in t else "–"
        md.append(f"| {r['case']} | {r['d']} | " + " | ".join(cell(n) for n in names)
                  + f" | {ratio('hand-fused numpy')} | {ratio('JAX jit')} | {t['bimaml_nb (autograd)'] / f:.1f} |")
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / "networks.md").write_text("\n".join(md) + "\n"); (out / "networks.json").write_text(json.dumps(dict(repeats=a.repeats, rows=rows), indent=1))
    print("\n".join(md))


if __name__ == "__main__": main()
