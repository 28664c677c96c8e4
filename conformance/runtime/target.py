"""How the suite reaches a runtime: the command line, presets, and the default target.

A target is an argv prefix (optional wrapper, the runtime command, global arguments) plus a
private ``--root`` state directory, so the suite never touches the system's runtime state.
Every runtime with the runc-style CLI fits: ``<prefix> --root DIR create|start|state|kill|
delete|features ...``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.core.errors import ConfigurationError, EnvironmentProblem

log = logging.getLogger(__name__)

PRESET_DIR = Path(__file__).parent / "presets"
REFERENCE_MODULE = "reference_impl.runtime"


@dataclass(frozen=True)
class Preset:
    """A known runtime's invocation on a host like this one (see docs/runtime.md).

    Attributes:
        binary: the runtime's command name, looked up on PATH.
        args: global arguments it needs here.
        wrapper: a script from ``presets/`` prefixed to every call, or empty.
        why: one line naming the host limitation the preset works around.
        cgroups: whether the invocation manages cgroups at all.
        cgroup_view: ``host`` (the runtime sees the host's cgroup layout) or ``unified`` (the
            wrapper shows it the host's cgroup2 hierarchy as a pure v2 ``/sys/fs/cgroup``).
        reference: the binary is the bundled reference runtime, not a command on PATH.
    """

    binary: str
    args: tuple[str, ...] = ()
    wrapper: str = ""
    why: str = ""
    cgroups: bool = True
    cgroup_view: str = "host"
    reference: bool = False


PRESETS: dict[str, Preset] = {
    "runc": Preset("runc", why="runc works as installed (cgroupfs v1 manager)"),
    "crun": Preset(
        "crun",
        args=("--cgroup-manager=disabled",),
        wrapper="cgroup2-view.sh",
        why="crun 1.8 rejects hybrid cgroup hosts: a private cgroup2 mount, cgroups disabled",
        cgroups=False,
    ),
    "runsc": Preset(
        "runsc",
        args=("--platform=ptrace", "--network=none", "--ignore-cgroups", "--oci-seccomp"),
        why="no KVM here; the sandbox network cannot run in the root network namespace; "
        "--oci-seccomp applies the config's seccomp filter inside the sandbox",
        cgroups=False,
    ),
    "runc-cgroup2": Preset(
        "runc",
        wrapper="cgroup2-view.sh",
        why="runc's cgroup v2 manager: a private mount namespace per call whose "
        "/sys/fs/cgroup is the host's cgroup2 hierarchy",
        cgroup_view="unified",
    ),
    "reference-cgroup2": Preset(
        REFERENCE_MODULE,
        wrapper="cgroup2-view.sh",
        why="the reference's cgroup v2 code path: a private mount namespace per call whose "
        "/sys/fs/cgroup is the host's cgroup2 hierarchy",
        cgroup_view="unified",
        reference=True,
    ),
}

CGROUP_VIEWS = ("host", "unified")
"""How the runtime sees cgroups: the host's layout, or the host's cgroup2 hierarchy alone."""


@dataclass
class RuntimeTarget:
    """The runtime under test and how to invoke it.

    Attributes:
        command: wrapper and runtime command, e.g. ``["unshare", ..., "crun"]``.
        global_args: arguments placed before every subcommand (before ``--root``).
        root: the private state directory passed as ``--root``.
        how: why this target was chosen (recorded with the results).
        cgroups: whether the invocation manages cgroups (cgroup tests skip otherwise).
        cgroup_view: which cgroup hierarchies the runtime sees (see :data:`CGROUP_VIEWS`).
    """

    command: list[str]
    global_args: list[str] = field(default_factory=list)
    root: Path = Path()
    how: str = ""
    cgroups: bool = True
    cgroup_view: str = "host"

    @property
    def is_reference(self) -> bool:
        """Whether this invocation runs the bundled reference runtime (for the reports)."""
        return any(
            part == REFERENCE_MODULE or part.endswith("/conformance-runtime")
            for part in self.command
        )

    def argv(self, *args: str) -> list[str]:
        """The full command line of one runtime operation."""
        return [*self.command, *self.global_args, "--root", str(self.root), *args]

    def identify(self, timeout: float = 20.0) -> dict[str, str]:
        """Name, version and spec version as ``<runtime> --version`` reports them."""
        try:
            proc = subprocess.run(
                [*self.command, *self.global_args, "--version"],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise EnvironmentProblem(f"cannot run {self.command!r} --version: {err}") from err
        return parse_version(proc.stdout)

    def features(self, timeout: float = 20.0) -> dict[str, Any] | None:
        """The ``features`` document, or ``None`` when the runtime has no such command."""
        proc = subprocess.run(
            self.argv("features"), capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            return None
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None


def parse_version(text: str) -> dict[str, str]:
    """Read ``<name> version <v>`` and ``spec: <v>`` lines of a ``--version`` output."""
    found = {"name": "", "version": "", "spec": ""}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        words = lines[0].split()
        found["name"] = words[0]
        if len(words) >= 3 and words[1] == "version":
            found["version"] = words[2]
        elif len(words) >= 2:
            found["version"] = words[-1]
    for line in lines[1:]:
        if line.lower().startswith("spec:"):
            found["spec"] = line.split(":", 1)[1].strip()
    return found


def reference_available() -> bool:
    """True when the bundled reference runtime is importable in this installation."""
    try:
        return importlib.util.find_spec(REFERENCE_MODULE) is not None
    except ModuleNotFoundError:
        return False


def default_command() -> tuple[list[str], str]:
    """The command used when no ``--runtime`` is given, and why.

    The single place that decides the default target: the bundled reference runtime when it
    is installed, else ``runc`` from PATH.
    """
    if reference_available():
        return [sys.executable, "-m", REFERENCE_MODULE], "bundled reference runtime"
    runc = shutil.which("runc")
    if runc is None:
        raise EnvironmentProblem(
            f"no --runtime given, {REFERENCE_MODULE} is not installed and runc is not on PATH"
        )
    return [runc], f"default: runc, because {REFERENCE_MODULE} is not installed yet"


def resolve(
    runtime: str | None,
    runtime_args: list[str],
    wrapper: str | None,
    preset: str | None,
    root: Path,
) -> RuntimeTarget:
    """Build the target from the options; presets fill in what the user did not give."""
    args = list(runtime_args)
    prefix = shlex.split(wrapper) if wrapper else []
    if preset:
        try:
            chosen = PRESETS[preset]
        except KeyError:
            known = ", ".join(sorted(PRESETS))
            raise ConfigurationError(
                f"--runtime-preset {preset!r}: choose one of {known}"
            ) from None
        if not prefix and chosen.wrapper:
            # Through sh: an installed package may not keep the script's executable bit.
            prefix = ["/bin/sh", str(PRESET_DIR / chosen.wrapper)]
        if runtime:
            binary = shlex.split(runtime)
        elif chosen.reference:
            if not reference_available():
                raise ConfigurationError(
                    f"--runtime-preset {preset!r}: {REFERENCE_MODULE} is not installed"
                )
            binary = [sys.executable, "-m", REFERENCE_MODULE]
        else:
            binary = [shutil.which(chosen.binary) or chosen.binary]
        how = f"preset {preset}: {chosen.why}"
        return RuntimeTarget(
            [*prefix, *binary],
            [*chosen.args, *args],
            root,
            how,
            chosen.cgroups,
            chosen.cgroup_view,
        )
    if runtime:
        return RuntimeTarget([*prefix, *shlex.split(runtime)], args, root, "--runtime")
    command, how = default_command()
    return RuntimeTarget([*prefix, *command], args, root, how)
