"""Latency the reference mesh adds: p50/p99 through the sidecars vs straight to the backend.

Starts the reference mesh, one backend deployment and one client pod (allowed by a
TrafficTarget), and a second copy of the same backend outside the mesh. Both paths get the
same fixed request rate over one keep-alive connection (requests are paced on a schedule, not
sent back to back), and the script prints the latency quantiles and the difference.

Usage: ``PYTHONPATH=. python bench/smi_bench.py [--rate 100] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from conformance.smi.target import (
    APP_PATH,
    HTTP_PORT,
    ReferenceMesh,
    smi_object,
    start_reference,
    stop_process,
)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def paced(
    client: httpx.Client, headers: dict[str, str], rate: float, seconds: float
) -> list[float]:
    """Send GET / at ``rate`` per second for ``seconds``; latencies in milliseconds."""
    latencies = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter()
        response = client.get("/", headers=headers)
        latencies.append((time.perf_counter() - sent) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"request {i} answered {response.status_code}: {response.text[:200]}")
    return latencies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _direct_backend() -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "SMI_PORT_8080": str(port), "SMI_BIND_ADDRESS": "127.0.0.1"}
    argv = [sys.executable, str(APP_PATH), "serve", "--name", "direct", "--version", "v1"]
    proc = subprocess.Popen([*argv, "--http", "8080"], env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    stop_process(proc)
    raise SystemExit("the direct backend did not start")


def _report(name: str, values: list[float]) -> dict[str, float]:
    row = {
        "p50": _quantile(values, 0.5),
        "p99": _quantile(values, 0.99),
        "mean": statistics.fmean(values),
    }
    print(f"{name:>8}: n={len(values)} p50={row['p50']:.3f} ms p99={row['p99']:.3f} ms")
    return row


def main() -> int:
    """Run the benchmark once and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smi-bench-") as tmp:
        process, url = start_reference(Path(tmp))
        mesh = ReferenceMesh(url, process)
        direct, port = _direct_backend()
        try:
            ns = "bench"
            mesh.create_namespace(ns)
            mesh.deploy_backend(ns, "echo", "v1", "echo", labels={"app": "echo"})
            mesh.create_service(ns, "echo", {"app": "echo"}, (HTTP_PORT,))
            client = mesh.deploy_client(ns, "client", "client")
            mesh.create(smi_object("TCPRoute", ns, "all", {"matches": {"ports": []}}))
            target = {
                "destination": {"kind": "ServiceAccount", "name": "echo"},
                "rules": [{"kind": "TCPRoute", "name": "all"}],
                "sources": [{"kind": "ServiceAccount", "name": "client"}],
            }
            mesh.create(smi_object("TrafficTarget", ns, "allow", target))
            egress = mesh.egress_address(client)
            with (
                httpx.Client(base_url=f"http://{egress}") as via_mesh,
                httpx.Client(base_url=f"http://127.0.0.1:{port}") as straight,
            ):
                paced(via_mesh, {"host": "echo.bench"}, args.rate, 1.0)  # warm-up
                paced(straight, {}, args.rate, 1.0)
                print(f"rate {args.rate:.0f}/s for {args.seconds:.0f} s, one keep-alive connection")
                base = _report("direct", paced(straight, {}, args.rate, args.seconds))
                meshed = _report(
                    "mesh", paced(via_mesh, {"host": "echo.bench"}, args.rate, args.seconds)
                )
            for q in ("p50", "p99"):
                added = meshed[q] - base[q]
                print(f"added {q}: {added:.3f} ms (x{meshed[q] / base[q]:.1f})")
        finally:
            stop_process(direct)
            mesh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
