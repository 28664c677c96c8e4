"""Target options of the image suite."""

from conformance.core.options import Option

OPTIONS = [
    Option(
        "--image-layout",
        "OCI image layout to validate (directory or tar)",
        env=("CONFORMANCE_IMAGE_LAYOUT",),
    ),
    Option(
        "--image-ref",
        "image in a registry to fetch and validate: HOST[:PORT]/REPO:TAG or @DIGEST "
        "(plain HTTP; loopback registries)",
        env=("CONFORMANCE_IMAGE_REF",),
    ),
    Option(
        "--image-producer",
        "command that writes a layout into {dest} ({kit} is the kit layout), e.g. "
        "'skopeo copy oci:{kit}:base oci:{dest}:base'",
        env=("CONFORMANCE_IMAGE_PRODUCER",),
    ),
    Option(
        "--image-unpacker",
        "command that unpacks {ref} of {layout} into {dest}, e.g. "
        "'umoci raw unpack --image {layout}:{ref} {dest}'",
        env=("CONFORMANCE_IMAGE_UNPACKER",),
    ),
    Option(
        "--image-docker-compat",
        "accept Docker media types where OCI ones are expected",
        env=("CONFORMANCE_IMAGE_DOCKER_COMPAT",),
        default=False,
        kind="bool",
    ),
]
