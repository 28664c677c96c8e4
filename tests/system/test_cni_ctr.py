"""A real CNI client drives the reference plugins: containerd 1.6's ``ctr run --cni``.

``cnitool`` is not packaged in Debian, so the client is ctr (go-cni inside). ctr reads its
network from the fixed directories ``/etc/cni/net.d`` and ``/opt/cni/bin``; the test gives it
private ones through overlay mounts in a private mount namespace, so the host's /etc and /opt
are never changed. A private containerd (own root, state and socket, CRI plugin disabled)
runs in a network namespace that plays the host, and ctr runs there too, so the bridge the
plugin creates lives in that namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.cni.netns import Netns
from conformance.cni.target import write_reference_path

pytestmark = [
    pytest.mark.system,
    pytest.mark.peer,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(
        not (shutil.which("containerd") and shutil.which("ctr") and shutil.which("runc")),
        reason="containerd, ctr and runc are needed",
    ),
]
BUSYBOX = Path("/bin/busybox")
NETWORK = "ctrnet"


def _wait_for_socket(path: Path, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while not path.is_socket():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"containerd did not start (exit {proc.poll()})")
        time.sleep(0.05)


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[tuple[Netns, Path]]:
    """A private containerd in a namespace that plays the host; yields (host ns, socket)."""
    host = Netns.create("h")
    socket = tmp_path / "c.sock"
    config = tmp_path / "containerd.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{tmp_path}/root"\nstate = "{tmp_path}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n[ttrpc]\n  address = "{socket}.ttrpc"\n'
    )
    log = (tmp_path / "containerd.log").open("wb")
    # nsenter (not "ip netns exec") keeps the host's /sys and its cgroup mount, which runc needs.
    proc = subprocess.Popen(
        ["nsenter", f"--net={host.path}", "containerd", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_socket(socket, proc, time.monotonic() + 60)
        yield host, socket
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        host.remove()


def _rootfs(tmp_path: Path) -> Path:
    rootfs = tmp_path / "rootfs"
    for sub in ("bin", "proc", "sys", "dev", "etc", "tmp"):
        (rootfs / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    return rootfs


def _script(tmp_path: Path, socket: Path, plugins: str, rootfs: Path) -> str:
    upper, work = tmp_path / "upper", tmp_path / "work"
    lines = ["set -e"]
    for top in ("etc", "opt"):
        (upper / top).mkdir(parents=True)
        (work / top).mkdir(parents=True)
        lines.append(
            f"mount -t overlay overlay -o lowerdir=/{top},upperdir={upper / top},"
            f"workdir={work / top} /{top}"
        )
    lines += [
        "mkdir -p /etc/cni/net.d /opt/cni/bin",
        f"mount --bind {tmp_path / 'net.d'} /etc/cni/net.d",
        f"mount --bind {plugins} /opt/cni/bin",
        f"exec ctr -a {socket} run --rm --cni --rootfs {rootfs} cnitest-ctr "
        "/bin/busybox sh -c '/bin/busybox ip -o addr; /bin/busybox ip route'",
    ]
    return "\n".join(lines) + "\n"


def test_ctr_run_with_cni_uses_the_reference_plugins(containerd, tmp_path: Path) -> None:
    """ctr's ADD gives the container eth0 with an address and lo up; its DEL frees both."""
    host, socket = containerd
    host_dirs = {d: d.exists() for d in (Path("/etc/cni"), Path("/opt/cni"))}
    plugins = write_reference_path()
    data_dir = tmp_path / "ipam"
    (tmp_path / "net.d").mkdir()
    (tmp_path / "net.d" / "10-cnitest.conflist").write_text(
        '{"cniVersion": "1.0.0", "name": "' + NETWORK + '", "plugins": ['
        '{"type": "bridge", "bridge": "cnictr0", "isGateway": true, "ipam": {'
        '"type": "host-local", "subnet": "10.96.0.0/24", "routes": [{"dst": "0.0.0.0/0"}], '
        f'"dataDir": "{data_dir}"' + "}}, "
        '{"type": "loopback"}]}'
    )
    script = tmp_path / "run.sh"
    script.write_text(_script(tmp_path, socket, plugins, _rootfs(tmp_path)))
    try:
        proc = subprocess.run(
            [
                "nsenter",
                f"--net={host.path}",
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                str(script),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        shutil.rmtree(plugins, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "eth0" in proc.stdout, proc.stdout
    assert "inet 10.96.0.2/24" in proc.stdout, proc.stdout
    assert "inet 127.0.0.1/8" in proc.stdout, proc.stdout
    assert "default via 10.96.0.1" in proc.stdout, proc.stdout
    # ctr ran DEL when the task exited: no reservation and no veth are left.
    left = [p.name for p in (data_dir / NETWORK).iterdir() if p.name != "lock"]
    assert left == []
    assert [n for n, link in host.links().items() if link.kind == "veth"] == []
    # The overlays kept the host's /etc and /opt as they were.
    assert {d: d.exists() for d in host_dirs} == host_dirs
