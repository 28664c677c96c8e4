"""The smi suite: SMI v0.6.0 conformance for a mesh (the bundled reference, or a cluster)."""
