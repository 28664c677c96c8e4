"""Benchmark: the reference registry against Debian's docker-registry, side by side.

Measures blob push and pull throughput (1 MiB and 256 MiB blobs) and manifest GET latency
(p50/p99) with 16 concurrent clients, on loopback, and prints each number with the ratio
reference / docker-registry. A script, not a test::

    PYTHONPATH=. python bench/distribution_bench.py [--rounds-1mib 30] [--requests 50]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import statistics
import time
from typing import Any

import requests

from conformance.distribution import data
from conformance.distribution.target import DockerRegistry, ReferenceRegistry, _Process

MIB = 1 << 20


def push_blob(session: requests.Session, url: str, repo: str, payload: bytes, digest: str) -> None:
    """POST then PUT one blob."""
    start = session.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=300)
    start.raise_for_status()
    location = start.headers["Location"]
    location = location if location.startswith("http") else url + location
    sep = "&" if "?" in location else "?"
    done = session.put(f"{location}{sep}digest={digest}", data=payload, timeout=600)
    if done.status_code != 201:
        raise RuntimeError(f"push failed: {done.status_code} {done.text[:200]}")


def pull_blob(session: requests.Session, url: str, repo: str, digest: str) -> int:
    """GET one blob, streaming; returns the bytes read."""
    total = 0
    with session.get(f"{url}/v2/{repo}/blobs/{digest}", stream=True, timeout=600) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_content(MIB):
            total += len(chunk)
    return total


def throughput(url: str, size: int, rounds: int) -> tuple[float, float]:
    """MiB/s for push and pull of ``rounds`` distinct blobs of ``size`` bytes."""
    session = requests.Session()
    base = os.urandom(size)
    blobs = []
    for i in range(rounds):
        payload = i.to_bytes(8, "big") + base[8:]
        blobs.append((payload, "sha256:" + hashlib.sha256(payload).hexdigest()))
    started = time.perf_counter()
    for payload, digest in blobs:
        push_blob(session, url, "bench/blobs", payload, digest)
    push_s = time.perf_counter() - started
    started = time.perf_counter()
    for _, digest in blobs:
        pull_blob(session, url, "bench/blobs", digest)
    pull_s = time.perf_counter() - started
    mib = size * rounds / MIB
    return mib / push_s, mib / pull_s


def manifest_latency(url: str, clients: int, per_client: int) -> tuple[float, float]:
    """p50 and p99 in ms of manifest GETs by ``clients`` concurrent clients."""
    session = requests.Session()
    img = data.image()
    for blob in img.blobs:
        push_blob(session, url, "bench/manifests", blob.data, blob.digest)
    resp = session.put(
        f"{url}/v2/bench/manifests/manifests/v1",
        data=img.body,
        headers={"Content-Type": img.media_type},
        timeout=30,
    )
    resp.raise_for_status()

    def worker(_: int) -> list[float]:
        own = requests.Session()
        own.get(f"{url}/v2/bench/manifests/manifests/v1", headers={"Accept": img.media_type})
        times = []
        for _ in range(per_client):
            t0 = time.perf_counter()
            got = own.get(
                f"{url}/v2/bench/manifests/manifests/v1",
                headers={"Accept": img.media_type},
                timeout=30,
            )
            times.append((time.perf_counter() - t0) * 1000)
            got.raise_for_status()
        own.close()
        return times

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        samples = [t for batch in pool.map(worker, range(clients)) for t in batch]
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[98]


def measure(registry: _Process, args: argparse.Namespace) -> dict[str, float]:
    """All numbers for one registry."""
    out: dict[str, float] = {}
    out["push 1 MiB (MiB/s)"], out["pull 1 MiB (MiB/s)"] = throughput(
        registry.url, MIB, args.rounds_1mib
    )
    out["push 256 MiB (MiB/s)"], out["pull 256 MiB (MiB/s)"] = throughput(
        registry.url, 256 * MIB, args.rounds_256mib
    )
    out["manifest GET p50 (ms)"], out["manifest GET p99 (ms)"] = manifest_latency(
        registry.url, args.clients, args.requests
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run both registries and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds-1mib", type=int, default=30)
    parser.add_argument("--rounds-256mib", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50, help="manifest GETs per client")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    for name, registry in (
        ("reference", ReferenceRegistry()),
        ("docker-registry", DockerRegistry()),
    ):
        with registry:
            results[name] = measure(registry, args)
    print(f"{'metric':28} {'reference':>12} {'docker-registry':>16} {'ratio ref/dr':>13}")
    for metric in results["reference"]:
        ref, peer = results["reference"][metric], results["docker-registry"][metric]
        print(f"{metric:28} {ref:12.2f} {peer:16.2f} {ref / peer:13.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
