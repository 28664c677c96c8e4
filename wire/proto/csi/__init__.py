"""CSI v1.12 (package ``csi.v1``): the .proto written from the spec and its generated stubs.

Import ``wire.proto.csi.csi_pb2`` and ``wire.proto.csi.csi_pb2_grpc``. Regenerate them with
``python -m wire.proto.csi.generate``; a unit test checks the committed stubs equal a fresh
generation. This package imports nothing itself, so generation works when the stubs are stale.
"""

SPEC_VERSION = "1.12.0"
