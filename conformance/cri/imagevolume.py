"""Deciding whether a runtime supports image volumes (``Mount.image``, cri-api KEP-4639).

Status has no flag for image volumes, so the suite probes: it creates a container whose
only extra mount has ``image`` set and ``host_path`` empty, and classifies the answer.

The rule (CRI-041 note, docs/cri.md "Image volumes"):

1. CreateContainer fails with UNIMPLEMENTED, or with a message saying image volumes / the
   feature are unsupported or not implemented: the capability is absent (skip).
2. CreateContainer fails otherwise: the suite repeats the request with ``image`` cleared (a
   bind mount with an empty ``host_path``, the request an older runtime actually decodes,
   since unknown proto fields are dropped). When that control fails with the same code, the
   image field changed nothing: the runtime does not know it (skip). When the control
   behaves differently, the runtime read the image field and then failed: a violation.
3. CreateContainer succeeds: the runtime claims support, so the volume must be applied: a
   mount at ``container_path`` in the running container showing the image's content.
   Nothing mounted there (the field silently ignored) is a violation, never a skip.
"""

from __future__ import annotations

import enum
import re

import grpc

from conformance.core import Violation

KEP = "https://github.com/kubernetes/enhancements/tree/master/keps/sig-node/4639-oci-volume-source"

_UNSUPPORTED = re.compile(r"not supported|unsupported|not implemented|unimplemented", re.I)


class Probe(enum.Enum):
    """What the CreateContainer probe with an image mount showed."""

    ACCEPTED = "accepted"
    """The runtime created the container: the volume must now be applied."""
    UNSUPPORTED = "unsupported"
    """The runtime said it lacks the feature, or does not know the field."""


def classify_create(
    code: grpc.StatusCode, message: str, control: grpc.StatusCode | None = None
) -> Probe:
    """Classify CreateContainer of a container with an image mount.

    Args:
        code: status of the CreateContainer with ``Mount.image`` set (OK when it succeeded).
        message: its error details ("" when it succeeded).
        control: status of the same request with ``Mount.image`` cleared, or None when it
            was not (yet) made. Only needed for an error that does not say "unsupported".

    Returns:
        ACCEPTED or UNSUPPORTED.

    Raises:
        Violation: the runtime read the image field and failed for another reason.
        ValueError: ``control`` is needed to decide and was not given.
    """
    if code == grpc.StatusCode.OK:
        return Probe.ACCEPTED
    if code == grpc.StatusCode.UNIMPLEMENTED or _UNSUPPORTED.search(message):
        return Probe.UNSUPPORTED
    if control is None:
        raise ValueError("the control request (image field cleared) is needed to decide")
    if control == code:
        return Probe.UNSUPPORTED
    raise Violation(
        "CreateContainer with Mount.image",
        "success, or an error saying image volumes are unsupported",
        f"{code.name}: {message} (without the image field: {control.name})",
        KEP,
    )


def mount_options(mountinfo: str, container_path: str) -> list[str]:
    """Mount options of the mount at ``container_path`` in a /proc/self/mountinfo text.

    Raises:
        Violation: nothing is mounted there (an accepted image volume was not applied).
    """
    found = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[4] == container_path:
            found = fields  # the last one wins: it is the mount on top
    if found is None:
        raise Violation(
            f"/proc/self/mountinfo: {container_path}",
            "the image volume mounted (CreateContainer accepted it)",
            "nothing mounted: Mount.image was ignored",
            KEP,
        )
    options = set(found[5].split(","))
    # super options (after the " - fstype source" separator) carry ro for e.g. erofs/squashfs
    sep = found.index("-") if "-" in found else -1
    if sep >= 0 and len(found) > sep + 3:
        options |= set(found[sep + 3].split(","))
    return sorted(options)
