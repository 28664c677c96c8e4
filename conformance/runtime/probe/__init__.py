"""The in-container probe (probe.c), built by the package and found with wire.native."""
