"""The image suite's catalogue: OCI Image Format Specification v1.1.1, in our own words."""

from __future__ import annotations

from conformance.core.catalogue import Catalogue, Level, Requirement

MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY


def _r(
    rid: str, level: Level, section: str, anchor: str, summary: str, note: str = ""
) -> Requirement:
    return Requirement(rid, level, section, summary, anchor, note)


_LAYOUT = [
    _r(
        "layout-oci-layout",
        MUST,
        "Image Layout: oci-layout file",
        "image-layout.md#oci-layout-file",
        "The layout has an oci-layout JSON object whose imageLayoutVersion is 1.0.0.",
    ),
    _r(
        "layout-blobs-dir",
        MUST,
        "Image Layout: blobs",
        "image-layout.md#blobs",
        "The layout has a blobs directory (it may be empty).",
    ),
    _r(
        "layout-index-json",
        MUST,
        "Image Layout: index.json file",
        "image-layout.md#indexjson-file",
        "The layout has an index.json file holding an image index.",
    ),
    _r(
        "layout-blob-content",
        MUST,
        "Image Layout: blobs",
        "image-layout.md#blobs",
        "Each file blobs/<alg>/<encoded> has content whose digest is <alg>:<encoded>, and its "
        "path follows the digest grammar.",
    ),
    _r(
        "layout-blob-present",
        MAY,
        "Image Layout: blobs",
        "image-layout.md#blobs",
        "Blobs referenced from the layout are present in it.",
        "The spec lets referenced blobs live elsewhere; absence is reported as a warning.",
    ),
    _r(
        "layout-ref-name",
        SHOULD,
        "Image Layout: index.json / Annotations",
        "image-layout.md#indexjson-file",
        "org.opencontainers.image.ref.name values follow the ref grammar (alphanumeric "
        "components joined by -._:@+ or --, separated by /).",
    ),
]

_DESCRIPTOR = [
    _r(
        "descriptor-fields",
        MUST,
        "Descriptor: properties",
        "descriptor.md#properties",
        "A descriptor is a JSON object.",
    ),
    _r(
        "descriptor-mediatype",
        MUST,
        "Descriptor: properties",
        "descriptor.md#properties",
        "Every descriptor has a mediaType shaped as an RFC 6838 type/subtype.",
    ),
    _r(
        "descriptor-digest",
        MUST,
        "Descriptor: digests",
        "descriptor.md#digests",
        "Every descriptor's digest follows algorithm:encoded; sha256 uses 64 and sha512 128 "
        "lowercase hex characters.",
    ),
    _r(
        "descriptor-registered-algorithm",
        SHOULD,
        "Descriptor: registered algorithms",
        "descriptor.md#registered-algorithms",
        "Digests use a registered algorithm, so that consumers can verify the content.",
        "An unknown algorithm that fits the grammar is not an error; the content is then "
        "unverifiable and the suite warns.",
    ),
    _r(
        "descriptor-size",
        MUST,
        "Descriptor: properties",
        "descriptor.md#properties",
        "size is a non-negative int64 equal to the length of the content.",
    ),
    _r(
        "descriptor-urls",
        MUST,
        "Descriptor: properties",
        "descriptor.md#properties",
        "urls, when present, is a list of RFC 3986 URIs.",
    ),
    _r(
        "descriptor-artifacttype",
        MUST,
        "Descriptor / Manifest: artifactType",
        "descriptor.md#properties",
        "artifactType, when present on a descriptor, manifest or index, is an RFC 6838 type.",
    ),
    _r(
        "descriptor-data",
        MUST,
        "Descriptor: embedded content",
        "descriptor.md#embedded-content",
        "data, when present, is base64 whose decoded bytes match the digest and size.",
    ),
    _r(
        "descriptor-mediatype-matches",
        SHOULD,
        "Media types: compatibility",
        "media-types.md#compatibility-matrix",
        "A manifest or index carries the same mediaType as the descriptor that points at it.",
    ),
    _r(
        "empty-descriptor",
        MUST,
        "Guidance for an empty descriptor",
        "manifest.md#guidance-for-an-empty-descriptor",
        "A descriptor of type application/vnd.oci.empty.v1+json refers to the two bytes {}.",
    ),
]

_MANIFEST = [
    _r(
        "manifest-fields",
        MUST,
        "Image Manifest: properties",
        "manifest.md#image-manifest-property-descriptions",
        "A manifest is an object with schemaVersion, config and layers of the right JSON types.",
    ),
    _r(
        "manifest-schema-version",
        MUST,
        "Image Manifest: properties",
        "manifest.md#image-manifest-property-descriptions",
        "A manifest's schemaVersion is 2.",
    ),
    _r(
        "manifest-mediatype",
        MUST,
        "Image Manifest: properties",
        "manifest.md#image-manifest-property-descriptions",
        "A manifest's mediaType, when present, is application/vnd.oci.image.manifest.v1+json.",
    ),
    _r(
        "manifest-mediatype-present",
        SHOULD,
        "Image Manifest: properties",
        "manifest.md#image-manifest-property-descriptions",
        "A manifest carries its mediaType.",
    ),
    _r(
        "manifest-artifacttype",
        MUST,
        "Image Manifest: artifactType",
        "manifest.md#image-manifest-property-descriptions",
        "A manifest whose config is the empty descriptor sets artifactType.",
    ),
    _r(
        "manifest-layers-nonempty",
        SHOULD,
        "Image Manifest: layers",
        "manifest.md#image-manifest-property-descriptions",
        "For portability a manifest lists at least one layer (the empty descriptor for an "
        "artifact without content).",
        "Registries accept empty layers (opencontainers/image-spec#1058); a warning only.",
    ),
    _r(
        "manifest-image-layer-types",
        SHOULD,
        "Image Manifest: layers / Image Layer Filesystem Changeset",
        "manifest.md#image-manifest-property-descriptions",
        "An image (config of the image config type) lists layers with layer media types.",
    ),
    _r(
        "manifest-subject",
        MUST,
        "Image Manifest / Image Index: subject",
        "manifest.md#image-manifest-property-descriptions",
        "subject, when present, is a valid descriptor.",
    ),
]

_INDEX = [
    _r(
        "index-fields",
        MUST,
        "Image Index: properties",
        "image-index.md#image-index-property-descriptions",
        "An index is an object with schemaVersion and a manifests list of objects.",
    ),
    _r(
        "index-schema-version",
        MUST,
        "Image Index: properties",
        "image-index.md#image-index-property-descriptions",
        "An index's schemaVersion is 2.",
    ),
    _r(
        "index-mediatype",
        MUST,
        "Image Index: properties",
        "image-index.md#image-index-property-descriptions",
        "An index's mediaType, when present, is application/vnd.oci.image.index.v1+json.",
    ),
    _r(
        "index-mediatype-present",
        SHOULD,
        "Image Index: properties",
        "image-index.md#image-index-property-descriptions",
        "An index carries its mediaType.",
    ),
    _r(
        "index-platform",
        MUST,
        "Image Index: platform",
        "image-index.md#image-index-property-descriptions",
        "platform, when present, has string architecture and os, and the optional fields have "
        "their types.",
    ),
    _r(
        "platform-values",
        SHOULD,
        "Image Index: platform",
        "image-index.md#image-index-property-descriptions",
        "platform os and architecture use the values Go knows as GOOS and GOARCH.",
    ),
    _r(
        "platform-matches-config",
        SHOULD,
        "Image Index: platform / Image Configuration",
        "image-index.md#image-index-property-descriptions",
        "An index entry's platform agrees with the architecture, os and variant of the config "
        "of the manifest it points at.",
        "Derived: the platform describes the image the entry points at.",
    ),
]

_CONFIG = [
    _r(
        "config-fields",
        MUST,
        "Image Configuration: properties",
        "config.md#properties",
        "A config has architecture, os and rootfs, and every field has its JSON type (null "
        "allowed for optional ones).",
    ),
    _r(
        "config-rootfs-type",
        MUST,
        "Image Configuration: rootfs",
        "config.md#properties",
        "rootfs.type is layers.",
    ),
    _r(
        "config-diff-ids",
        MUST,
        "Image Configuration: rootfs / Layer DiffID",
        "config.md#layer-diffid",
        "There is one diff_id per layer, and each is the digest of that layer uncompressed.",
        "Derived from the DiffID definition; the spec's own test data once broke it.",
    ),
    _r(
        "config-created",
        MUST,
        "Image Configuration: properties",
        "config.md#properties",
        "created and history[].created are RFC 3339 date-times.",
    ),
    _r(
        "config-env",
        MUST,
        "Image Configuration: properties",
        "config.md#properties",
        "Env entries have the form NAME=value with a non-empty NAME.",
    ),
    _r(
        "config-exposed-ports",
        MUST,
        "Image Configuration: properties",
        "config.md#properties",
        "ExposedPorts keys are port, port/tcp or port/udp.",
    ),
    _r(
        "config-history-layers",
        MAY,
        "Image Configuration: history",
        "config.md#properties",
        "History entries without empty_layer match the number of diff_ids.",
        "A consistency heuristic; reported as a warning.",
    ),
]

_LAYER = [
    _r(
        "layer-format",
        MUST,
        "Image Layer Filesystem Changeset",
        "layer.md#distributable-format",
        "A layer blob is a tar archive, gzip or zstd compressed as its media type says.",
    ),
    _r(
        "layer-no-duplicates",
        MUST,
        "Image Layer Filesystem Changeset: file types",
        "layer.md#file-types",
        "A layer has at most one entry for a path.",
    ),
    _r(
        "layer-whiteout-entries",
        MUST,
        "Image Layer Filesystem Changeset: whiteouts",
        "layer.md#whiteouts",
        "Whiteout entries (.wh.<name>, .wh..wh..opq) are empty regular files.",
    ),
    _r(
        "layer-no-sparse",
        SHOULD,
        "Image Layer Filesystem Changeset: file attributes",
        "layer.md#file-attributes",
        "Layers do not use sparse file entries.",
    ),
    _r(
        "layer-nondistributable",
        SHOULD,
        "Image Layer Filesystem Changeset: non-distributable layers",
        "layer.md#non-distributable-layers",
        "Producers do not write the deprecated non-distributable layer media types.",
    ),
]

_ANNOTATIONS_JSON = [
    _r(
        "annotations-rules",
        MUST,
        "Annotations: rules",
        "annotations.md#rules",
        "Annotations (and config Labels) are a map of string to string.",
    ),
    _r(
        "annotations-reverse-domain",
        SHOULD,
        "Annotations: rules",
        "annotations.md#rules",
        "Annotation keys use reverse domain notation.",
    ),
    _r(
        "annotations-reserved",
        MUST,
        "Annotations: rules",
        "annotations.md#rules",
        "Keys under org.opencontainers are only those the OCI specs define.",
    ),
    _r(
        "annotations-predefined",
        MUST,
        "Annotations: pre-defined keys",
        "annotations.md#pre-defined-annotation-keys",
        "Pre-defined keys with a format keep it (created is RFC 3339, base.digest a digest).",
    ),
    _r(
        "json-i-json",
        MUST,
        "Considerations: JSON",
        "considerations.md#json",
        "Every JSON document is I-JSON: UTF-8, unique member names, no NaN or Infinity.",
    ),
]

_UNPACK = [
    _r(
        "unpack-whiteout",
        MUST,
        "Whiteouts",
        "layer.md#whiteouts",
        "Applying a whiteout removes the named path of the lower layers; the whiteout itself "
        "does not appear.",
    ),
    _r(
        "unpack-whiteout-lower-only",
        MUST,
        "Whiteouts",
        "layer.md#whiteouts",
        "A whiteout does not hide an entry of its own layer.",
    ),
    _r(
        "unpack-opaque-whiteout",
        MUST,
        "Opaque Whiteout",
        "layer.md#opaque-whiteout",
        "An opaque whiteout removes every lower child of its directory, wherever it sits in the "
        "tar, and keeps its own layer's children.",
    ),
    _r(
        "unpack-hardlinks",
        MUST,
        "File types: hardlinks",
        "layer.md#hardlinks",
        "Hard link entries become links to the same inode.",
    ),
    _r(
        "unpack-symlinks",
        MUST,
        "File types",
        "layer.md#file-types",
        "Symbolic links are created with their exact target text, chains included.",
    ),
    _r(
        "unpack-attributes",
        MUST,
        "File attributes",
        "layer.md#file-attributes",
        "Modes (with setuid, setgid, sticky) and numeric ownership are applied.",
    ),
    _r(
        "unpack-replace",
        MUST,
        "Changeset over existing files",
        "layer.md#changeset-over-existing-files",
        "A non-directory entry over an existing path replaces it; a directory over a directory "
        "keeps its content and takes the new attributes.",
    ),
    _r(
        "unpack-confinement",
        MUST,
        "Image Layer Filesystem Changeset",
        "layer.md#changesets",
        "Nothing an unpacker does to a layer reaches outside the rootfs: '..' names, absolute "
        "names, writes through symlinks and hard links to outside are refused or neutralised.",
        "Derived: a changeset only describes the rootfs; the suite accepts a refusal (non-zero "
        "exit) or a neutralised entry, and checks canaries outside the destination.",
    ),
]

_UNPACK.append(
    _r(
        "unpack-index-json-tolerance",
        MUST,
        "Image Layout: index.json file",
        "image-layout.md#indexjson-file",
        "A consumer finds a ref in index.json although other entries are nested indexes or of "
        "unknown media types (those must not cause an error).",
    )
)

CATALOGUE = Catalogue(
    suite="image",
    spec_name="OCI Image Format Specification",
    spec_version="v1.1.1",
    base_url="https://github.com/opencontainers/image-spec/blob/v1.1.1",
    requirements=tuple(
        _LAYOUT + _DESCRIPTOR + _MANIFEST + _INDEX + _CONFIG + _LAYER + _ANNOTATIONS_JSON + _UNPACK
    ),
)
