"""Runtime info: Version, Status, UpdateRuntimeConfig, unimplemented RPCs."""

from __future__ import annotations

import json

import grpc
import pytest

from conformance.core import check, check_equal, not_applicable
from conformance.cri.helpers import rpc_code
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(30)


@pytest.mark.requirement("CRI-001")
def test_version_names_runtime_and_api_v1(cri):
    """Version reports the runtime's name and version and the CRI API version v1."""
    resp = cri.client.runtime.Version(pb.VersionRequest(version="v1"))

    check(resp.runtime_name, "VersionResponse.runtime_name", "non-empty", resp.runtime_name)
    check(
        resp.runtime_version, "VersionResponse.runtime_version", "non-empty", resp.runtime_version
    )
    check(resp.version, "VersionResponse.version", "non-empty", resp.version)
    check_equal(resp.runtime_api_version, "v1", "VersionResponse.runtime_api_version")


@pytest.mark.requirement("CRI-002")
def test_status_reports_runtime_and_network_ready(cri):
    """Status carries RuntimeReady and NetworkReady conditions, both true on a ready node."""
    resp = cri.client.runtime.Status(pb.StatusRequest())

    conditions = {c.type: c for c in resp.status.conditions}
    for name in ("RuntimeReady", "NetworkReady"):
        check(
            name in conditions,
            f"StatusResponse.status.conditions[{name}]",
            "present",
            sorted(conditions),
        )
        cond = conditions[name]
        check(
            cond.status,
            f"conditions[{name}].status",
            True,
            f"false (reason={cond.reason!r}, message={cond.message!r})",
        )


@pytest.mark.requirement("CRI-055")
def test_update_runtime_config_accepts_pod_cidr(cri):
    """UpdateRuntimeConfig accepts a pod CIDR and leaves the runtime ready."""
    req = pb.UpdateRuntimeConfigRequest(
        runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr="10.231.0.0/16"))
    )
    cri.client.runtime.UpdateRuntimeConfig(req)

    resp = cri.client.runtime.Status(pb.StatusRequest())
    ready = {c.type: c.status for c in resp.status.conditions}
    check(ready.get("RuntimeReady"), "Status after UpdateRuntimeConfig", "RuntimeReady", ready)


@pytest.mark.requirement("CRI-006")
def test_unimplemented_optional_rpc_answers_unimplemented_or_works(cri):
    """An optional RPC either works or fails with UNIMPLEMENTED, never another error."""
    code, resp = rpc_code(lambda: cri.client.runtime.RuntimeConfig(pb.RuntimeConfigRequest()))

    if code == grpc.StatusCode.OK:
        check(resp.HasField("linux"), "RuntimeConfigResponse.linux", "set", resp)
        return
    check_equal(code, grpc.StatusCode.UNIMPLEMENTED, "RuntimeConfig status code")


@pytest.mark.requirement("CRI-004")
def test_verbose_status_info_holds_json_values(cri):
    """A verbose Status may add an info map; each of its values is a JSON document."""
    resp = cri.client.runtime.Status(pb.StatusRequest(verbose=True))

    if not resp.info:
        not_applicable("the runtime adds no verbose info (optional)")
    for key, value in resp.info.items():
        try:
            json.loads(value)
        except ValueError:
            check(False, f"StatusResponse.info[{key!r}]", "a JSON value", value[:200])
