"""The CSI suite: drives any CSI v1.12 plugin over its gRPC UNIX socket.

One module per service (identity, controller, node, group controller) plus snapshots,
expansion and general error-scheme checks. With no ``--csi-endpoint`` the bundled reference
driver (:mod:`reference_impl.csi`) is started on a temporary socket.
"""
