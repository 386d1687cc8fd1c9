"""Peak process memory (max RSS) of a P4-sized pool (20 × 500 × 5000, least squares) and its oracles.

Run: python benchmarks/memory.py. Prints the data's size and the process's max RSS before and after
building the pool and calling grad_F (exact and hessian_free), F_grads and hvp_F three times each.
"""
import os, resource
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
from bimaml_nb.oracles import TaskPool, squared_loss

def main():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(20, 500, 5000)) / np.sqrt(5000); y = rng.normal(size=(20, 500)); w = rng.normal(size=5000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    pool = TaskPool.from_data(squared_loss, X, y)
    for _ in range(3): pool.grad_F(w, 0.3); pool.F_grads(w, 0.3); pool.grad_F(w, 0.3, "hessian_free"); pool.hvp_F(w, w, 0.3)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"data {X.nbytes / 2**20:.1f} MiB; max RSS with the data {before:.1f} MiB; "
          f"after the pool and its oracles {after:.1f} MiB (+{after - before:.1f} MiB)")

if __name__ == "__main__":
    main()
