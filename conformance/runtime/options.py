"""Target options of the runtime suite (see docs/runtime.md)."""

from conformance.core.options import Option

OPTIONS = [
    Option(
        "--runtime",
        "runtime binary or command to test (default: the bundled reference runtime)",
        env=("CONFORMANCE_RUNTIME", "RUNTIME"),
    ),
    Option(
        "--runtime-arg",
        "global argument placed before every subcommand, e.g. --runtime-arg=--systemd-cgroup "
        "(repeatable)",
        env=("CONFORMANCE_RUNTIME_ARGS",),
        default=[],
        kind="list",
    ),
    Option(
        "--runtime-wrapper",
        "command line prefixed to every runtime invocation (split like a shell would)",
        env=("CONFORMANCE_RUNTIME_WRAPPER",),
    ),
    Option(
        "--runtime-preset",
        "ready-made invocation for a known runtime on this kind of host: runc, crun, runsc; "
        "runc-cgroup2 and reference-cgroup2 take their cgroup v2 path on a hybrid host",
        env=("CONFORMANCE_RUNTIME_PRESET",),
    ),
    Option(
        "--runtime-no-cgroups",
        "the invocation runs without cgroup management: cgroup tests are skipped as configured",
        env=("CONFORMANCE_RUNTIME_NO_CGROUPS",),
        default=False,
        kind="bool",
    ),
    Option(
        "--runtime-cgroup-view",
        "which cgroup hierarchies the invocation shows the runtime: host (the host's layout) "
        "or unified (a wrapper mounts the host's cgroup2 hierarchy as its /sys/fs/cgroup)",
        env=("CONFORMANCE_RUNTIME_CGROUP_VIEW",),
    ),
    Option(
        "--runtime-root",
        "state directory passed as --root (default: a private temporary directory)",
        env=("CONFORMANCE_RUNTIME_ROOT",),
    ),
    Option(
        "--runtime-command-timeout",
        "seconds one runtime command may take before the test fails as hung",
        env=("CONFORMANCE_RUNTIME_COMMAND_TIMEOUT",),
        default=30.0,
        kind="float",
    ),
]
