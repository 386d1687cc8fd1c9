"""CPU time of a 50-step BI-MAML run on 10 of 10,000 tasks against the full-batch run (OPENBLAS_NUM_THREADS=1 python benchmarks/batch_runs.py)."""
import time, numpy as np
from bimaml_nb.oracles import TaskPool, squared_loss
from bimaml_nb.algorithms import bimaml
rng = np.random.default_rng(0)
M, n, d = 10_000, 50, 20
X = rng.normal(size=(M, n, d)); y = (X @ rng.normal(size=(M, d, 1)))[..., 0] + rng.normal(size=(M, n))
pool = TaskPool.from_data(squared_loss, X, y)
def cpu(f):
    t = time.process_time(); r = f(); return time.process_time() - t, r
for rep in range(2):
    full, rf = cpu(lambda: bimaml(pool, np.zeros(d), 0.1, 0.05, max_iter=50))
    batch, rb = cpu(lambda: bimaml(pool, np.zeros(d), 0.1, 0.05, max_iter=50, batch_size=10, rng=np.random.default_rng(1)))
    batch_sparse, rs = cpu(lambda: bimaml(pool, np.zeros(d), 0.1, 0.05, max_iter=50, batch_size=10, rng=np.random.default_rng(1), record_every=50))
    print(f"full {full:.3f}s  batch(default rows) {batch:.3f}s ({batch/full:.1%})  batch(record_every=50) {batch_sparse:.3f}s ({batch_sparse/full:.1%}); cost full {rf.total_cost:.0f} batch {rb.total_cost:.3f}")
