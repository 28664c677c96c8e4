"""The OCI Runtime Specification suite: drives a runtime binary with the runc-style CLI."""
