"""FAISS IndexFlatIP reference for `npm run bench:index` (measurement only; never a runtime dependency).

Usage: python3 bench/python/faiss_flat.py --sizes 1e4,1e5 --dim 512 --k 10 --batches 64 --budget-s 3
Prints one JSON object per line: {"size", "mode", "qps", "cpu_qps", "faiss"}. One thread (OpenMP and BLAS).
Vectors: seeded Gaussian rows, L2-normalised (FAISS speed does not depend on the values).
"""
import argparse
import json
import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402

try:
    import faiss  # noqa: E402
except ImportError:
    print(json.dumps({"error": "faiss not installed (pip install faiss-cpu)"}))
    sys.exit(3)


def unit_rows(n, dim, rng):
    out = np.empty((n, dim), dtype=np.float32)
    step = 65536
    for start in range(0, n, step):
        block = rng.standard_normal((min(step, n - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + len(block)] = block
    return out


def timed(work, budget_s, max_units):
    cpu0, t0, units = time.process_time(), time.perf_counter(), 0
    while True:
        work(units)
        units += 1
        if units >= max_units or time.perf_counter() - t0 >= budget_s:
            break
    return units, time.perf_counter() - t0, time.process_time() - cpu0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="1e4,1e5,1e6")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--batches", default="64")
    p.add_argument("--budget-s", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=20240601)
    a = p.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(a.seed)
    batches = [int(float(b)) for b in a.batches.split(",") if b]
    queries = unit_rows(max([256] + batches), a.dim, rng)
    for size in [int(float(s)) for s in a.sizes.split(",") if s]:
        index = faiss.IndexFlatIP(a.dim)
        index.add(unit_rows(size, a.dim, rng))
        nq = len(queries)
        index.search(queries[:1], a.k)  # warm-up
        units, wall, cpu = timed(lambda i: index.search(queries[i % nq:i % nq + 1], a.k), a.budget_s, 100000)
        emit(size, "single", units / wall, units / cpu)
        for b in batches:
            units, wall, cpu = timed(lambda i: index.search(queries[:b], a.k), a.budget_s, 1000)
            emit(size, f"batch {b}", units * b / wall, units * b / cpu)
        del index


def emit(size, mode, qps, cpu_qps):
    print(json.dumps({"size": size, "mode": mode, "qps": qps, "cpu_qps": cpu_qps, "faiss": faiss.__version__}), flush=True)


if __name__ == "__main__":
    main()
