"""The runtime's exceptions, split by who is at fault.

RuntimeCommandError            every error the CLI reports (exit status 1)
+-- ConfigError           the bundle's config.json is invalid; names the field
+-- ContainerStateError   the operation does not fit the container's state (or id)
+-- HostError             the host refused a step (a syscall, a cgroup write, a hook)
"""

from __future__ import annotations


class RuntimeCommandError(Exception):
    """An error the CLI prints and turns into exit status 1."""


class ConfigError(RuntimeCommandError):
    """config.json breaks the runtime spec or asks for something this runtime cannot do.

    Attributes:
        field: the JSON path of the offending field (``process.args``).
        problem: what is wrong with it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"config.json: {field}: {problem}")
        self.field = field
        self.problem = problem


class ContainerStateError(RuntimeCommandError):
    """The container does not exist, already exists, or is in the wrong state."""


class HostError(RuntimeCommandError):
    """A step on the host failed (a syscall, a cgroup file, a hook)."""
