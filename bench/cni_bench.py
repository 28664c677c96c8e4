#!/usr/bin/env python3
"""ADD+DEL latency of the reference bridge + host-local against Debian's, in one run.

Each round creates a container namespace, runs ADD then DEL of the same attachment and
records the wall time of each exec (as a runtime would see it: process start included). Both
implementations run inside one namespace that plays the host, alternating round by round so
host noise hits both alike. Prints medians, p90 and the reference/Debian ratio.

Usage: sudo PYTHONPATH=. python bench/cni_bench.py [--rounds 30] [--debian /usr/lib/cni]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile

from conformance.cni.netns import Netns
from conformance.cni.runner import PluginRunner
from conformance.cni.target import write_reference_path


def _config(name: str, bridge: str, data_dir: str) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,
        "ipam": {"type": "host-local", "subnet": "10.97.0.0/24", "dataDir": data_dir},
    }


def _round(runner: PluginRunner, config: dict, i: int) -> tuple[float, float]:
    ns = Netns.create("b")
    try:
        env = {"container_id": f"bench-{i}", "netns": ns.path, "ifname": "eth0"}
        add = runner.call("bridge", "ADD", config, **env)
        delete = runner.call("bridge", "DEL", config, **env)
        if not (add.ok and delete.ok):
            raise SystemExit(f"bench call failed: {add.describe()} / {delete.describe()}")
        return add.seconds, delete.seconds
    finally:
        ns.remove()


def _summary(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=10)
    return f"median {statistics.median(samples) * 1000:7.1f} ms  p90 {q[-1] * 1000:7.1f} ms"


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--debian", default="/usr/lib/cni")
    args = parser.parse_args()
    ref_path = write_reference_path()
    state = tempfile.mkdtemp(prefix="cni-bench-")
    host = Netns.create("hb")
    try:
        impls = {
            "reference": (
                PluginRunner([ref_path], host_netns=host.name),
                _config("benchref", "cnbref0", state + "/ref"),
            ),
            "debian": (
                PluginRunner([args.debian], host_netns=host.name),
                _config("benchdeb", "cnbdeb0", state + "/deb"),
            ),
        }
        times: dict[str, dict[str, list[float]]] = {
            k: {"ADD": [], "DEL": [], "ADD+DEL": []} for k in impls
        }
        for i in range(args.rounds):
            for name, (runner, config) in impls.items():
                add, delete = _round(runner, config, i)
                times[name]["ADD"].append(add)
                times[name]["DEL"].append(delete)
                times[name]["ADD+DEL"].append(add + delete)
        print(f"CNI bridge + host-local, {args.rounds} rounds, CNI 1.0.0")
        for op in ("ADD", "DEL", "ADD+DEL"):
            for name in impls:
                print(f"  {op:8s} {name:10s} {_summary(times[name][op])}")
            ratio = statistics.median(times["reference"][op]) / statistics.median(
                times["debian"][op]
            )
            print(f"  {op:8s} ratio reference/debian (medians): {ratio:.1f}x")
    finally:
        host.remove()
        shutil.rmtree(ref_path, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
