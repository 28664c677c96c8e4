"""Kubernetes Container Runtime Interface (CRI v1) conformance suite.

Drives any CRI v1 gRPC endpoint (``runtime.v1`` RuntimeService and ImageService) with test
images served from a loopback registry. Without an endpoint it starts the default target
(see :func:`conformance.cri.target.default_target`).
"""
