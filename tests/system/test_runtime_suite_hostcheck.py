"""System tests: the runtime suite's own kernel probes give the host's answer, whatever ran
before them in the same worker.

The CRI and CSI suites share the xdist workers with the runtime suite; once gRPC has started
its threads in a worker, a fork of that worker is multithreaded and the kernel refuses it a new
user namespace (EINVAL). A probe that forked would then report a host limitation the host does
not have, and the idmapped-mount tests would skip in CI for no reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from conformance.runtime import hostcheck

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="the probes write uid maps and read /dev/kmsg"),
]


@pytest.fixture
def grpc_threads() -> Iterator[None]:
    """gRPC's polling threads running in this process, as after a CRI or CSI test."""
    channel = grpc.insecure_channel("unix:///nonexistent/conformance-hostcheck.sock")
    with pytest.raises(grpc.FutureTimeoutError):
        grpc.channel_ready_future(channel).result(timeout=0.2)
    yield
    channel.close()


def test_idmap_probe_makes_its_user_namespace_beside_grpc(grpc_threads, tmp_path: Path) -> None:
    """The idmap probe's user namespace is made even when this process runs gRPC threads."""
    for recursive in (False, True):
        reason = hostcheck.idmap_unsupported(tmp_path, recursive=recursive)

        assert "user namespace" not in (reason or ""), reason


def test_seccomp_log_probe_installs_its_filter_beside_grpc(grpc_threads) -> None:
    """The seccomp LOG probe's filter is installed even when this process runs gRPC threads."""
    reason = hostcheck.seccomp_log_unobservable.__wrapped__()

    assert "could not be installed" not in (reason or ""), reason
