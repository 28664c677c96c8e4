"""Media types of the OCI image spec (v1.1) and the Docker formats registries still meet."""

OCI_LAYOUT_VERSION = "1.0.0"

IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LAYER_NONDIST_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar"
LAYER_NONDIST_TAR_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
LAYER_NONDIST_TAR_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
"""Digest of the two bytes ``{}``, the content of the empty descriptor."""

LAYER_TYPES = frozenset(
    {
        LAYER_TAR,
        LAYER_TAR_GZIP,
        LAYER_TAR_ZSTD,
        LAYER_NONDIST_TAR,
        LAYER_NONDIST_TAR_GZIP,
        LAYER_NONDIST_TAR_ZSTD,
        DOCKER_LAYER_GZIP,
    }
)

MANIFEST_TYPES = frozenset({IMAGE_MANIFEST, IMAGE_INDEX, DOCKER_MANIFEST_V2, DOCKER_MANIFEST_LIST})
