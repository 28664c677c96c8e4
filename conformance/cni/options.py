"""Target options of the cni suite."""

from conformance.core.options import Option

OPTIONS = [
    Option(
        "--cni-path",
        "directories holding the plugins under test, ':'-separated (default: the bundled "
        "reference plugins)",
        env=("CONFORMANCE_CNI_PATH",),
    ),
    Option(
        "--cni-plugin",
        "type of the interface-creating plugin under test",
        env=("CONFORMANCE_CNI_PLUGIN",),
        default="bridge",
    ),
    Option(
        "--cni-ipam",
        "type of the IPAM plugin, tested on its own and delegated to by the main plugin",
        env=("CONFORMANCE_CNI_IPAM",),
        default="host-local",
    ),
    Option(
        "--cni-loopback",
        "type of the loopback plugin tested on its own (skipped when not on the path)",
        env=("CONFORMANCE_CNI_LOOPBACK",),
        default="loopback",
    ),
    Option(
        "--cni-chained",
        "plugin appended after the main plugin in the chaining tests",
        env=("CONFORMANCE_CNI_CHAINED",),
        default="loopback",
    ),
    Option(
        "--cni-config",
        "JSON or YAML file of plugin fields merged into every generated network config "
        "(placeholders {bridge}, {master}, {dataDir}, {subnet})",
        env=("CONFORMANCE_CNI_CONFIG",),
    ),
    Option(
        "--cni-versions",
        "only run these CNI versions (default: every version >= 0.3.0 the plugin claims)",
        env=("CONFORMANCE_CNI_VERSIONS",),
        kind="list",
    ),
]
