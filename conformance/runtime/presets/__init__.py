"""Wrapper scripts that the runtime presets put in front of a runtime's invocations."""
