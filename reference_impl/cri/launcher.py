"""Start and stop a reference CRI server as a subprocess (for test harnesses and benchmarks).

:class:`ReferenceCri` owns private directories, a CNI network (reference bridge and
host-local on a bridge and /24 of its own) and the server process; ``stop`` removes every pod
the server still has, stops it, deletes the bridge and the directories; ``leftovers`` lists
what outlived that. It has the ``start``/``stop``/``leftovers``/``endpoint`` shape the CRI
suite's targets use.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from wire.proto.cri import api_pb2 as pb
from wire.proto.cri import api_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


class ReferenceCri:
    """One reference CRI server on private directories, socket and pod network."""

    def __init__(self, subnet: str, bridge: str, base: Path | None = None) -> None:
        self.base = Path(base or tempfile.mkdtemp(prefix="cri-ref-", dir="/var/tmp"))
        self.socket = self.base / "cri.sock"
        self.endpoint = f"unix://{self.socket}"
        self.subnet = subnet
        self.bridge = bridge
        self.proc: subprocess.Popen[bytes] | None = None

    def _write_network(self) -> None:
        plugin = {
            "type": "bridge",
            "bridge": self.bridge,
            "isGateway": True,
            "ipam": {
                "type": "host-local",
                "dataDir": str(self.base / "ipam"),
                "ranges": [[{"subnet": self.subnet}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        ports = {"type": "portmap", "capabilities": {"portMappings": True}}
        doc = {"cniVersion": "1.0.0", "name": f"cri-ref-{self.bridge}", "plugins": [plugin, ports]}
        (self.base / "cni").mkdir(parents=True, exist_ok=True)
        (self.base / "cni" / "10-cri-ref.conflist").write_text(json.dumps(doc))

    def start(self, timeout: float = 20.0) -> None:
        """Start the server (or restart it on the same directories) and wait for Version."""
        if not (self.base / "cni").exists():
            self._write_network()
        argv = [
            sys.executable, "-m", "reference_impl.cri", "--endpoint", self.endpoint,
            "--root", str(self.base / "root"), "--state", str(self.base / "state"),
            "--cni-conf-dir", str(self.base / "cni"),
        ]  # fmt: skip
        with open(self.base / "server.log", "ab") as logfile:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with grpc.insecure_channel(self.endpoint) as ch:
                    pb_grpc.RuntimeServiceStub(ch).Version(pb.VersionRequest(), timeout=1)
                return
            except grpc.RpcError:
                time.sleep(0.1)
        tail = (self.base / "server.log").read_text(errors="replace")[-2000:]
        self.halt()
        raise RuntimeError(f"reference CRI server did not start: {tail}")

    def remove_all(self) -> None:
        """Stop and remove every pod the server knows."""
        with grpc.insecure_channel(self.endpoint) as ch:
            rt = pb_grpc.RuntimeServiceStub(ch)
            for pod in rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=30).items:
                rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
                rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)

    def halt(self) -> None:
        """SIGTERM the server process only (pods keep running; a restart picks them up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        """Remove all pods, stop the server, delete the bridge and (when clean) the dirs."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.remove_all()
        except grpc.RpcError as err:
            log.warning("could not remove the reference server's pods: %s", err)
        finally:
            self.halt()
            subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        if not self.leftovers():
            shutil.rmtree(self.base, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """Shims, runtime containers, mounts and pod records that outlived the pods."""
        left = []
        state = str(self.base / "state")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "reference_impl.cri.shim" in cmd and state in cmd:
                left.append(f"shim {pid}")
        if (self.base / "state" / "runtime").is_dir():
            runc = subprocess.run(
                ["runc", "--root", f"{state}/runtime", "list", "-q"],
                capture_output=True,
                text=True,
                check=False,
            )
            left += [f"runtime container {c}" for c in runc.stdout.split()]
        left += [
            f"mount {line.split()[4]}"
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(self.base) in line.split()[4]
        ]
        left += [f"pod record {p.stem}" for p in (self.base / "state" / "sandboxes").glob("*")]
        left += [f"container dir {p.name}" for p in (self.base / "root" / "containers").glob("*")]
        return left
