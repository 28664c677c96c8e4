"""Reference CRI v1 server: pods and containers on an OCI runtime, images from OCI registries.

Start it with ``python -m reference_impl.cri --endpoint unix:///path.sock --root DIR
--state DIR``; see ``docs/cri-reference.md``.
"""

RUNTIME_NAME = "reference-cri"
RUNTIME_VERSION = "0.1.0"
