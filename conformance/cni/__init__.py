"""Conformance suite for the Container Network Interface (CNI spec 1.0.0 and 1.1.0).

The harness plays the container runtime: it creates network namespaces, executes plugin
binaries with the spec's environment and stdin, and compares what they report with what the
kernel shows inside the namespaces.
"""
