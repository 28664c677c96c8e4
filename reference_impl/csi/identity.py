"""The Identity service (spec.md "Identity Service RPC")."""

from __future__ import annotations

import os

import grpc
from google.protobuf.wrappers_pb2 import BoolValue

from reference_impl.csi.driver import NAME, VERSION, Driver
from reference_impl.csi.errors import precondition, rpc
from wire.proto.csi import csi_pb2, csi_pb2_grpc

_Service = csi_pb2.PluginCapability.Service
_Expansion = csi_pb2.PluginCapability.VolumeExpansion


class IdentityService(csi_pb2_grpc.IdentityServicer):
    """Names the driver, lists its services and reports readiness."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    @rpc
    def GetPluginInfo(self, request, context: grpc.ServicerContext):  # noqa: N802
        return csi_pb2.GetPluginInfoResponse(
            name=NAME, vendor_version=VERSION, manifest={"spec": "1.12.0"}
        )

    @rpc
    def GetPluginCapabilities(self, request, context: grpc.ServicerContext):  # noqa: N802
        services = (
            _Service.CONTROLLER_SERVICE,
            _Service.VOLUME_ACCESSIBILITY_CONSTRAINTS,
            _Service.GROUP_CONTROLLER_SERVICE,
            _Service.SNAPSHOT_METADATA_SERVICE,
        )
        if self.driver.fault("hide-snapshot-metadata"):
            # Serve the service without advertising it: callers must get UNIMPLEMENTED.
            services = tuple(t for t in services if t != _Service.SNAPSHOT_METADATA_SERVICE)
        caps = [csi_pb2.PluginCapability(service=_Service(type=t)) for t in services]
        caps.append(csi_pb2.PluginCapability(volume_expansion=_Expansion(type=_Expansion.ONLINE)))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=caps)

    @rpc
    def Probe(self, request, context: grpc.ServicerContext):  # noqa: N802
        # Not ready when the state directory cannot take writes (spec.md "Probe").
        if not os.access(self.driver.root, os.W_OK):
            raise precondition(f"state directory {self.driver.root} is not writable")
        return csi_pb2.ProbeResponse(ready=BoolValue(value=True))
