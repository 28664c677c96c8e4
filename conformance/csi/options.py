"""Target options of the CSI suite."""

from conformance.core.options import Option

OPTIONS = [
    Option(
        "--csi-endpoint",
        "CSI plugin endpoint (unix:///path.sock); the node service and, unless "
        "--csi-controller-endpoint is given, the controller service. Default: start the "
        "bundled reference driver",
        env=("CONFORMANCE_CSI_ENDPOINT", "CSI_ENDPOINT"),
    ),
    Option(
        "--csi-controller-endpoint",
        "separate endpoint of the controller plugin (split deployments)",
        env=("CONFORMANCE_CSI_CONTROLLER_ENDPOINT",),
    ),
    Option(
        "--csi-staging-dir",
        "directory under which staging paths are made (default: a temporary directory)",
        env=("CONFORMANCE_CSI_STAGING_DIR",),
    ),
    Option(
        "--csi-target-dir",
        "directory under which target paths' parents are made (default: a temporary directory)",
        env=("CONFORMANCE_CSI_TARGET_DIR",),
    ),
    Option(
        "--csi-params",
        "YAML file with volumeParameters, mutableParameters, invalidMutableParameters, "
        "snapshotParameters, groupSnapshotParameters and secrets (csi-sanity secret keys)",
        env=("CONFORMANCE_CSI_PARAMS",),
    ),
    Option(
        "--csi-access-type",
        "access type of test volumes: mount or block",
        env=("CONFORMANCE_CSI_ACCESS_TYPE",),
        default="mount",
    ),
    Option(
        "--csi-volume-size",
        "size in bytes of test volumes",
        env=("CONFORMANCE_CSI_VOLUME_SIZE",),
        default=16 * 1024 * 1024,
        kind="int",
    ),
    Option(
        "--csi-fs-type",
        "fs_type of mount capabilities (empty: the plugin's default)",
        env=("CONFORMANCE_CSI_FS_TYPE",),
        default="",
    ),
    Option(
        "--csi-attach-limit-max",
        "run the attach-limit test only when the node's limit is at most this many volumes",
        env=("CONFORMANCE_CSI_ATTACH_LIMIT_MAX",),
        default=32,
        kind="int",
    ),
]
