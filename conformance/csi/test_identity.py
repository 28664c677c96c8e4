"""Identity service: GetPluginInfo, GetPluginCapabilities, Probe.

Spec: spec.md "Identity Service RPC".
"""

from __future__ import annotations

import re
import time

import grpc
import pytest

from conformance.core import check, check_equal
from conformance.csi.client import ok
from wire.proto.csi import csi_pb2

# Domain-name notation, alphanumeric at both ends, at most 63 characters (spec.md
# "GetPluginInfo"); csi-sanity's stricter letters-only rule is not the spec's.
PLUGIN_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


@pytest.mark.requirement("GetPluginInfo-name-and-version")
def test_get_plugin_info_returns_valid_name_and_version(csi):
    """The plugin names itself in domain notation (at most 63 characters) and has a version."""
    info = ok(csi.services.identity.GetPluginInfo, csi_pb2.GetPluginInfoRequest())

    check(info.name, "GetPluginInfoResponse.name", "a non-empty name", info.name)
    check(len(info.name) <= 63, "GetPluginInfoResponse.name", "at most 63 characters", info.name)
    check(
        PLUGIN_NAME.match(info.name),
        "GetPluginInfoResponse.name",
        "domain-name notation, alphanumeric at both ends",
        info.name,
    )
    check(info.vendor_version, "GetPluginInfoResponse.vendor_version", "non-empty", "")


@pytest.mark.requirement("GetPluginInfo-same-on-every-endpoint")
def test_get_plugin_info_matches_on_controller_and_node_endpoints(csi):
    """Controller and node endpoints of one plugin report the same name and version."""
    node = ok(csi.services.identity.GetPluginInfo, csi_pb2.GetPluginInfoRequest())
    ctrl = ok(csi.services.controller_identity.GetPluginInfo, csi_pb2.GetPluginInfoRequest())

    check_equal(
        (ctrl.name, ctrl.vendor_version),
        (node.name, node.vendor_version),
        "controller GetPluginInfoResponse",
    )


@pytest.mark.requirement("GetPluginCapabilities-known-types")
def test_get_plugin_capabilities_lists_only_known_types(csi):
    """Every plugin capability is a service or expansion type the spec defines."""
    reply = ok(csi.services.identity.GetPluginCapabilities, csi_pb2.GetPluginCapabilitiesRequest())

    services = csi_pb2.PluginCapability.Service.Type
    expansion = csi_pb2.PluginCapability.VolumeExpansion.Type
    for index, cap in enumerate(reply.capabilities):
        where = f"GetPluginCapabilitiesResponse.capabilities[{index}]"
        kind = cap.WhichOneof("type")
        check(kind in ("service", "volume_expansion"), where, "service or volume_expansion", kind)
        value = cap.service.type if kind == "service" else cap.volume_expansion.type
        known = services.values() if kind == "service" else expansion.values()
        check(value in known and value != 0, where, "a known, non-UNKNOWN type", value)


@pytest.mark.requirement("GetPluginCapabilities-stable")
def test_get_plugin_capabilities_is_stable_across_calls(csi):
    """Repeated calls (and the controller endpoint) report the same capabilities."""
    request = csi_pb2.GetPluginCapabilitiesRequest()
    first = ok(csi.services.identity.GetPluginCapabilities, request)
    second = ok(csi.services.identity.GetPluginCapabilities, request)
    ctrl = ok(csi.services.controller_identity.GetPluginCapabilities, request)

    check_equal(second, first, "GetPluginCapabilitiesResponse (second call)")
    check_equal(ctrl, first, "GetPluginCapabilitiesResponse (controller endpoint)")


@pytest.mark.requirement("Probe-ready")
def test_probe_reports_readiness(csi):
    """Probe succeeds (ready absent or true), or says FAILED_PRECONDITION with a reason."""
    try:
        reply = csi.services.identity.Probe(csi_pb2.ProbeRequest())
    except grpc.RpcError as err:
        check(
            err.code() == grpc.StatusCode.FAILED_PRECONDITION and err.details(),
            "Probe",
            "OK or FAILED_PRECONDITION with a message",
            f"{err.code().name}: {err.details()}",
        )
        return
    deadline = time.monotonic() + 10
    while reply.HasField("ready") and not reply.ready.value and time.monotonic() < deadline:
        time.sleep(0.2)  # ready=false means "still starting": give it a bounded while
        reply = ok(csi.services.identity.Probe, csi_pb2.ProbeRequest())
    if reply.HasField("ready"):
        check(reply.ready.value, "ProbeResponse.ready", "true within 10 s", False)
