"""How the suite reaches a CRI implementation, and the default target it starts without one.

:func:`default_target` starts the bundled reference CRI server (``reference_impl.cri``, see
``docs/cri-reference.md``). :class:`PrivateContainerd` starts Debian's containerd with its CRI
plugin, runc and the Debian CNI plugins, with its own root, state, socket, CNI config and
bridge, pulling from the harness's registry (used by peer tests and benchmarks).

Cleanup kills only what this module started: the containerd process by its pid and the
``containerd-shim-runc-v2`` processes whose ``-address`` is our socket, then unmounts what is
left under our directories and deletes the bridge.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.core import EnvironmentProblem

log = logging.getLogger(__name__)

CONTAINERD_BIN = "containerd"
CNI_BIN_DIR = "/usr/lib/cni"
SUBNET_POOL = ipaddress.ip_network("10.231.0.0/16")
"""Private /24s for the pod bridges are picked from here, one per started containerd."""


@dataclass
class Target:
    """A CRI endpoint the suite talks to.

    Attributes:
        endpoint: ``unix:///path`` of the runtime service.
        image_endpoint: ``unix:///path`` of the image service.
        kind: ``endpoint`` (given by the user) or the kind of default started.
        description: what was started, for the recorded target.
        stop: called at session end for targets the harness started.
    """

    endpoint: str
    image_endpoint: str
    kind: str = "endpoint"
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    process: Any = None

    def stop(self) -> None:
        """Stop what the harness started for this target (nothing for a given endpoint)."""
        if self.process is not None:
            self.process.stop()


def given_target(endpoint: str, image_endpoint: str | None) -> Target:
    """The target named by ``--cri-endpoint`` (and ``--cri-image-endpoint``)."""
    return Target(endpoint=endpoint, image_endpoint=image_endpoint or endpoint)


def default_target(registry_host: str) -> Target:
    """Start the default target: the bundled reference CRI server (``reference_impl.cri``).

    It runs on private directories and socket, with runc and a CNI network of the reference
    bridge and host-local plugins (Debian's portmap after them) on a bridge and /24 of its
    own. Images come from ``registry_host`` like any other pull (loopback is plain HTTP).
    The private containerd (:class:`PrivateContainerd`) stays available for peer runs.
    """
    from reference_impl.cri.launcher import ReferenceCri

    class _Reference(ReferenceCri):
        def stop(self) -> None:
            try:
                super().stop()
            finally:
                _release_subnet(self.subnet)

    base = Path(tempfile.mkdtemp(prefix="cri-ref-", dir="/var/tmp"))
    subnet = _claim_subnet(base)
    ref = _Reference(subnet, f"crref{subnet.split('.')[2]}", base)
    try:
        ref.start()
    except RuntimeError as err:
        ref.stop()
        raise EnvironmentProblem(str(err)) from err
    return Target(
        endpoint=ref.endpoint,
        image_endpoint=ref.endpoint,
        kind="default:reference",
        description="reference CRI server (python -m reference_impl.cri) started by the harness",
        details={"base": str(base), "bridge": ref.bridge, "subnet": subnet},
        process=ref,
    )


def containerd_target(registry_host: str) -> Target:
    """Start Debian's containerd privately as the target (``--cri-start containerd``).

    Args:
        registry_host: ``127.0.0.1:PORT`` of the plain-HTTP registry with the test images;
            the sandbox (pause) image is pulled from there.
    """
    ctd = PrivateContainerd(registry_host)
    try:
        ctd.start()
    except EnvironmentProblem:
        ctd.stop()
        raise
    return Target(
        endpoint=ctd.endpoint,
        image_endpoint=ctd.endpoint,
        kind="peer:containerd",
        description="private containerd (Debian) started by the harness",
        details={"config": str(ctd.config_path), "bridge": ctd.bridge, "subnet": ctd.subnet},
        process=ctd,
    )


STARTERS = {"reference": default_target, "containerd": containerd_target}
"""What ``--cri-start`` can start when no endpoint is given."""


# -- the private containerd ---------------------------------------------------------------


def _used_subnets() -> set[str]:
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line and line[0].isdigit()}


@contextlib.contextmanager
def _subnet_lock() -> Any:
    path = Path(tempfile.gettempdir()) / "conformance-cri-subnets.lock"
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _claim_subnet(marker_dir: Path) -> str:
    """A /24 from :data:`SUBNET_POOL` no route and no other live run uses.

    Claims are files in the temp dir holding the claimant's pid, so parallel xdist workers
    (and other runs) never share a bridge subnet; stale claims of dead pids are reused.
    """
    claims = Path(tempfile.gettempdir()) / "conformance-cri-subnets"
    claims.mkdir(exist_ok=True)
    with _subnet_lock():
        used = _used_subnets()
        subnets = list(SUBNET_POOL.subnets(new_prefix=24))
        start = os.getpid() % len(subnets)
        for net in subnets[start:] + subnets[:start]:
            claim = claims / str(net).replace("/", "_")
            if claim.exists():
                try:
                    pid = int(claim.read_text().split()[0])
                    os.kill(pid, 0)
                    continue
                except (ValueError, IndexError, ProcessLookupError):
                    pass
            if str(net) in used:
                continue
            claim.write_text(f"{os.getpid()} {marker_dir}\n")
            return str(net)
    raise EnvironmentProblem(f"no free /24 left in {SUBNET_POOL} for a pod bridge")


def _release_subnet(subnet: str) -> None:
    claim = Path(tempfile.gettempdir()) / "conformance-cri-subnets" / subnet.replace("/", "_")
    with contextlib.suppress(FileNotFoundError):
        claim.unlink()


class PrivateContainerd:
    """containerd with its CRI plugin in private directories, on a private socket."""

    def __init__(self, registry_host: str) -> None:
        self.registry_host = registry_host
        self.dir = Path(tempfile.mkdtemp(prefix="cri-ctd-", dir="/var/tmp"))
        self.config_path = self.dir / "config.toml"
        self.socket = self.dir / "containerd.sock"
        self.endpoint = f"unix://{self.socket}"
        self.subnet = ""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bridge(self) -> str:
        """The bridge's name, unique because it is named after the claimed subnet."""
        if not self.subnet:
            return ""
        return f"crit{ipaddress.ip_network(self.subnet).network_address.packed[2]}"

    def config(self) -> str:
        """The containerd config (TOML) of this instance."""
        d = self.dir
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        reg = self.registry_host
        return f"""version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = "{d}/debug.sock"
[metrics]
  address = ""
[{cri}]
  sandbox_image = "{reg}/cri-test/pause:latest"
  # root here lacks CAP_SYS_RESOURCE, so the sandbox's oom_score_adj must not be lowered
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.containerd]
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        Root = "{d}/runc"
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{d}/net.d"
  [{cri}.registry.mirrors."{reg}"]
    endpoint = ["http://{reg}"]
"""

    def cni_conflist(self) -> dict[str, Any]:
        """A bridge + host-local + portmap network on this instance's bridge and subnet."""
        return {
            "cniVersion": "1.0.0",
            "name": f"cri-test-{self.bridge}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(self.dir / "ipam"),
                        "ranges": [[{"subnet": self.subnet}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def start(self, timeout: float = 30.0) -> None:
        """Write the config and CNI network, start containerd, wait for its socket."""
        if shutil.which(CONTAINERD_BIN) is None:
            raise EnvironmentProblem("containerd not found (Debian package containerd)")
        self.subnet = _claim_subnet(self.dir)
        (self.dir / "net.d").mkdir()
        (self.dir / "net.d" / "10-cri-test.conflist").write_text(json.dumps(self.cni_conflist()))
        self.config_path.write_text(self.config())
        log.info("starting containerd with %s", self.config_path)
        with (self.dir / "containerd.log").open("ab") as logfile:
            self.proc = subprocess.Popen(
                [CONTAINERD_BIN, "--config", str(self.config_path)],
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.dir / "containerd.log").read_text()[-2000:]
                self.stop()
                raise EnvironmentProblem(f"containerd did not start: {tail}")
            time.sleep(0.05)

    def shim_pids(self) -> list[int]:
        """Pids of the runc shims serving this instance (matched by their -address)."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"containerd-shim" in argv[0] and str(self.socket).encode() in argv:
                pids.append(int(proc.name))
        return pids

    def mounts(self) -> list[str]:
        """Mount points below this instance's directory, deepest first."""
        prefix = str(self.dir) + "/"
        points = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                points.append(point)
        return sorted(points, key=len, reverse=True)

    def leftovers(self) -> list[str]:
        """What of this instance still exists (processes, mounts, the bridge, the dir)."""
        found = [f"shim pid {pid}" for pid in self.shim_pids()]
        if self.proc is not None and self.proc.poll() is None:
            found.append(f"containerd pid {self.proc.pid}")
        found += [f"mount {m}" for m in self.mounts()]
        if self.bridge and Path(f"/sys/class/net/{self.bridge}").exists():
            found.append(f"link {self.bridge}")
        if self.dir.exists():
            found.append(f"dir {self.dir}")
        return found

    def stop(self) -> None:
        """Stop containerd and its shims, unmount and delete everything it left."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pid in self.shim_pids():
            # The shim's containers die with it (their runc init is its child).
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._wait_shims_gone()
        for point in self.mounts():
            subprocess.run(["umount", "-l", point], capture_output=True)
        if self.bridge and Path(f"/sys/class/net/{self.bridge}").exists():
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        if self.subnet:
            _release_subnet(self.subnet)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _wait_shims_gone(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.shim_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
