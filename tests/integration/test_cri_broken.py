"""The CRI suite's checks can fail: run part of it against a proxy that corrupts answers.

The proxy is a gRPC server on a unix socket that forwards every call, as raw bytes, to a
private containerd and rewrites selected answers: it drops pod annotations, answers OK for
the status of a missing container, says the network is not ready, and reports exit code 0
for every ExecSync. The suite runs in a subprocess against the proxy; the tests bound to those
answers must fail in its results.json while an untouched test still passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from conformance.core.host import is_root
from conformance.core.selfrun import run_suite
from conformance.cri import registry as registry_mod
from conformance.cri import target as target_mod
from wire.proto.cri import api_pb2 as pb

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not is_root(), reason="needs root to run containerd"),
]

RUNTIME = "/runtime.v1.RuntimeService/"


def _drop_annotations(raw: bytes) -> bytes:
    resp = pb.PodSandboxStatusResponse.FromString(raw)
    resp.status.annotations.clear()
    return resp.SerializeToString()


def _network_not_ready(raw: bytes) -> bytes:
    resp = pb.StatusResponse.FromString(raw)
    for cond in resp.status.conditions:
        if cond.type == "NetworkReady":
            cond.status = False
            cond.reason = "BrokenProxy"
    return resp.SerializeToString()


def _exit_zero(raw: bytes) -> bytes:
    resp = pb.ExecSyncResponse.FromString(raw)
    resp.exit_code = 0
    return resp.SerializeToString()


CORRUPT: dict[str, Callable[[bytes], bytes]] = {
    RUNTIME + "PodSandboxStatus": _drop_annotations,
    RUNTIME + "Status": _network_not_ready,
    RUNTIME + "ExecSync": _exit_zero,
}
OK_WHEN_MISSING = {RUNTIME + "ContainerStatus": pb.ContainerStatusResponse()}


class BrokenProxy(grpc.GenericRpcHandler):
    """Forwards every unary call to ``upstream``, corrupting the answers named above."""

    def __init__(self, upstream: str) -> None:
        self.channel = grpc.insecure_channel(upstream)

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        forward = self.channel.unary_unary(method)

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            remaining = context.time_remaining()
            try:
                raw = forward(request, timeout=remaining)
            except grpc.RpcError as err:
                if method in OK_WHEN_MISSING and err.code() == grpc.StatusCode.NOT_FOUND:
                    return OK_WHEN_MISSING[method].SerializeToString()
                context.abort(err.code(), err.details() or "")
            return CORRUPT.get(method, lambda b: b)(raw)

        return grpc.unary_unary_rpc_method_handler(handle)


@pytest.fixture(scope="module")
def broken_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A private containerd behind the corrupting proxy, and the registry it pulls from."""
    local = registry_mod.LocalRegistry()
    host = local.start()
    ctd = None
    server = None
    try:
        registry_mod.push_base_images(registry_mod.Registry(host))
        ctd = target_mod.PrivateContainerd(host)
        ctd.start()
        sock = tmp_path_factory.mktemp("proxy") / "broken.sock"
        server = grpc.server(futures.ThreadPoolExecutor(8), handlers=[BrokenProxy(ctd.endpoint)])
        server.add_insecure_port(f"unix://{sock}")
        server.start()
        yield {"endpoint": f"unix://{sock}", "registry": host}
    finally:
        if server is not None:
            server.stop(None).wait()
        if ctd is not None:
            ctd.stop()
        local.stop()


def _run_suite(
    endpoint: dict[str, Any], report: Path, selection: str
) -> dict[str, tuple[str, str]]:
    run = run_suite(
        "cri",
        report,
        "-k",
        selection,
        f"--cri-endpoint={endpoint['endpoint']}",
        f"--cri-registry={endpoint['registry']}",
        timeout=300,
    )
    return {
        name: (record["outcome"], record.get("message", "")[:500])
        for name, record in run.records().items()
    }


def test_suite_fails_against_corrupting_endpoint(broken_endpoint, tmp_path):
    """Annotations dropped, OK for a missing container, NetworkReady false and a wrong exit
    code each fail their test; an unaffected test passes."""
    expected_failures = [
        "test_pod_metadata_labels_and_annotations_round_trip",
        "test_container_status_of_unknown_container_is_not_found",
        "test_status_reports_runtime_and_network_ready",
        "test_exec_sync_returns_stdout_stderr_and_exit_code",
    ]
    control = "test_version_names_runtime_and_api_v1"
    selection = " or ".join([*expected_failures, control])

    outcomes = _run_suite(broken_endpoint, tmp_path / "report", selection)

    for name in expected_failures:
        assert outcomes[name][0] == "failed", (name, outcomes[name])
    assert outcomes[control][0] == "passed", outcomes[control]
