#!/usr/bin/env python3
"""Benchmark: create + start + wait + delete of a ``/bin/true`` container.

The reference runtime, runc and crun run the same bundle (static busybox rootfs, read-only
root, pid/net/ipc/uts/mount namespaces), interleaved in shuffled order so load changes hit all
three alike. crun 1.8 refuses this hybrid cgroup host, so it runs with
``--cgroup-manager=disabled`` inside a private mount namespace holding a cgroup2 mount (each
crun call enters it with setns); runc and the reference use cgroup v1.

Usage: ``sudo python bench/runtime_bench.py [--runs 20] [--rounds 3]``. Prints per-phase and
total medians (ms) and ratios to runc.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRAPPER = REPO / "reference_impl" / "runtime" / "bin" / "conformance-runtime"
LIBC = ctypes.CDLL(None, use_errno=True)


def build_bundle(base: Path) -> Path:
    """A bundle with a busybox rootfs and a /bin/true process."""
    rootfs = base / "bundle" / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for sub in ("proc", "dev", "sys", "tmp", "etc"):
        (rootfs / sub).mkdir()
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("true", "sh"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {
                s: ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
                for s in ("bounding", "effective", "permitted")
            },
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        },
    }
    (base / "bundle" / "config.json").write_text(json.dumps(config))
    return base / "bundle"


class Variant:
    """One runtime command line, optionally entered into a mount namespace first."""

    def __init__(self, name: str, argv: list[str], mntns: str | None = None) -> None:
        self.name = name
        self.argv = argv
        self.mntns = mntns
        self.samples: dict[str, list[float]] = {
            p: [] for p in ("create", "start", "wait", "delete", "total", "cpu")
        }

    def _preexec(self) -> None:
        fd = os.open(self.mntns or "", os.O_RDONLY)
        if LIBC.setns(fd, 0x00020000) != 0:
            raise OSError(ctypes.get_errno(), "setns")

    def call(self, *args: str) -> None:
        """Run one runtime command; raises with its stderr on failure."""
        # stderr goes to a file: the container inherits it, and a pipe would stay open until
        # the container exits, hanging ``create``.
        with tempfile.TemporaryFile() as err:
            proc = subprocess.run(
                [*self.argv, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=self._preexec if self.mntns else None,
                check=False,
            )
            if proc.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"{self.name} {' '.join(args)}: {err.read().decode()}")

    def state_pid(self, cid: str) -> int:
        """The container's init pid from ``state``."""
        out = subprocess.run(
            [*self.argv, "state", cid],
            capture_output=True,
            preexec_fn=self._preexec if self.mntns else None,
            check=True,
        ).stdout
        return int(json.loads(out)["pid"])

    def lifecycle(self, bundle: Path, record: bool) -> None:
        """create, start, wait for exit, delete; records phase times in ms."""
        cid = f"bench-{uuid.uuid4().hex[:10]}"
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        self.call("create", "--bundle", str(bundle), "--pid-file", str(bundle.parent / "pid"), cid)
        t1 = time.perf_counter()
        pid = int((bundle.parent / "pid").read_text())
        self.call("start", cid)
        t2 = time.perf_counter()
        os.waitpid(pid, 0)
        t3 = time.perf_counter()
        self.call("delete", cid)
        t4 = time.perf_counter()
        cpu = _children_cpu() - cpu0
        if record:
            self.samples["cpu"].append(cpu * 1000)
            for phase, value in zip(
                ("create", "start", "wait", "delete", "total"),
                (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0),
                strict=True,
            ):
                self.samples[phase].append(value * 1000)


def _children_cpu() -> float:
    """User + system CPU seconds of all reaped children (runtime calls and container inits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def crun_holder() -> subprocess.Popen:
    """A process in a private mount namespace with cgroup2 at /sys/fs/cgroup (for crun)."""
    script = (
        "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "
        "echo ready && exec sleep 100000"
    )
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE,
        text=True,
    )
    if holder.stdout is None or holder.stdout.readline().strip() != "ready":
        raise RuntimeError("could not prepare the cgroup2 mount namespace for crun")
    return holder


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per round per variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    LIBC.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: container inits come back to us
    base = Path(tempfile.mkdtemp(prefix="rtbench"))
    holder = None
    try:
        bundle = build_bundle(base)
        # The wrapper picks the interpreter (CONFORMANCE_PYTHON, else /usr/bin/python3).
        python = os.environ.get("CONFORMANCE_PYTHON") or (
            "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"
        )
        print(f"reference runtime interpreter: {python}")
        variants = [Variant("reference", [str(WRAPPER), "--root", str(base / "ref")])]
        if shutil.which("runc"):
            variants.append(Variant("runc", ["runc", "--root", str(base / "runc")]))
        if shutil.which("crun"):
            holder = crun_holder()
            argv = ["crun", "--cgroup-manager=disabled", "--root", str(base / "crun")]
            variants.append(Variant("crun", argv, mntns=f"/proc/{holder.pid}/ns/mnt"))
        for _ in range(args.warmup):
            for v in variants:
                v.lifecycle(bundle, record=False)
        rounds: dict[str, list[float]] = {v.name: [] for v in variants}
        for _ in range(args.rounds):
            before = {v.name: len(v.samples["total"]) for v in variants}
            for _ in range(args.runs):
                for v in random.sample(variants, len(variants)):
                    v.lifecycle(bundle, record=True)
            for v in variants:
                rounds[v.name].append(statistics.median(v.samples["total"][before[v.name] :]))
        report(variants, rounds)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def report(variants: list[Variant], rounds: dict[str, list[float]]) -> None:
    """Print medians per phase, round medians and the ratio to runc."""
    runc = next((v for v in variants if v.name == "runc"), None)
    runc_total = statistics.median(runc.samples["total"]) if runc else None
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"create+start+wait+delete of /bin/true, load average {' '.join(load)}")
    header = f"{'runtime':<10} {'total':>8} {'create':>8} {'start':>8} {'wait':>6} {'delete':>8}"
    print(header + f"  {'rounds':<22} {'p10/p90':<14} ratio  cpu  cpu-ratio")
    runc_cpu = statistics.median(runc.samples["cpu"]) if runc else None
    for v in variants:
        med = {p: statistics.median(s) for p, s in v.samples.items()}
        dec = statistics.quantiles(v.samples["total"], n=10)
        ratio = f"{med['total'] / runc_total:.2f}" if runc_total else "-"
        rnd = "/".join(f"{r:.1f}" for r in rounds[v.name])
        print(
            f"{v.name:<10} {med['total']:8.1f} {med['create']:8.1f} {med['start']:8.1f} "
            f"{med['wait']:6.1f} {med['delete']:8.1f}  {rnd:<22} "
            f"{dec[0]:.1f}/{dec[-1]:.1f}{'':<4} {ratio}  {med['cpu']:.0f}  "
            f"{med['cpu'] / runc_cpu if runc_cpu else 0:.2f}"
        )


if __name__ == "__main__":
    sys.exit(main())
