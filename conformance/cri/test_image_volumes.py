"""Image volumes: an OCI image mounted read-only into a container (Mount.image, KEP-4639).

Optional: support is probed with CreateContainer (conformance/cri/imagevolume.py); a runtime
without it skips every test here as the capability "image volumes".
"""

from __future__ import annotations

import grpc
import pytest

from conformance.core import check, check_equal, current_evidence, skip_capability
from conformance.cri.helpers import rpc_code
from conformance.cri.imagevolume import Probe, classify_create, mount_options
from conformance.kit.build import HTTPD_BODY, HTTPD_PATH
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)

CAPABILITY = "image volumes"
TARGET = "/mnt/image"


def _image_mount(cri, readonly: bool = True, sub_path: str = "") -> pb.Mount:
    """A mount of the kit's httpd image (its /www/index.html is the content marker)."""
    spec = pb.ImageSpec(image=cri.ctx.image_ref("httpd"))
    return pb.Mount(container_path=TARGET, readonly=readonly, image=spec, image_sub_path=sub_path)


def _create(cri, mount: pb.Mount) -> tuple[grpc.StatusCode, object]:
    """CreateContainer (busybox, sleeping) in a new pod with ``mount``; (code, id or error)."""
    cri.ensure_image("httpd")  # kubelet pulls an image volume's image before CreateContainer
    pod_id, config = cri.run_pod(cri.pod_config("imgvol"))
    ctr = cri.container_config(mounts=[mount])
    return rpc_code(lambda: cri.create_container(pod_id, config, ctr))


def _details(result: object) -> str:
    return result.details() if isinstance(result, grpc.Call) else str(result)


def _supported_container(cri, sub_path: str = "") -> str:
    """Probe support with a valid image mount; skip when absent, else the started container."""
    code, result = _create(cri, _image_mount(cri, sub_path=sub_path))
    control, control_result = None, None
    if code != grpc.StatusCode.OK:
        control_mount = _image_mount(cri, sub_path=sub_path)
        control_mount.ClearField("image")
        control, control_result = _create(cri, control_mount)
    verdict = classify_create(code, _details(result), control)
    current_evidence().note(
        "image volume probe",
        create=code.name,
        details=_details(result),
        control=control.name if control else None,
        control_details=_details(control_result) if control else None,
        verdict=verdict.value,
    )
    if verdict is Probe.UNSUPPORTED:
        skip_capability(CAPABILITY, f"CreateContainer with Mount.image: {code.name}")
    cri.start(str(result))
    return str(result)


def _options(cri, cid: str) -> list[str]:
    return mount_options(cri.exec_ok(cid, ["cat", "/proc/self/mountinfo"]), TARGET)


@pytest.mark.requirement("CRI-041")
def test_image_volume_is_mounted_read_only_with_the_image_content(cri):
    """An image volume shows the image's files, is mounted read-only and cannot be written."""
    cid = _supported_container(cri)

    options = _options(cri, cid)
    body = cri.exec_ok(cid, ["cat", f"{TARGET}/www{HTTPD_PATH}"])
    touch = cri.exec_sync(cid, ["touch", f"{TARGET}/www/new"])

    check("ro" in options, f"mount options of {TARGET}", "ro", options)
    check_equal(body, HTTPD_BODY.decode(), f"{TARGET}/www{HTTPD_PATH} in the container")
    check(touch.exit_code != 0, f"touch {TARGET}/www/new", "fails (read-only)", touch.exit_code)


@pytest.mark.requirement("CRI-041")
def test_image_volume_is_not_noexec(cri):
    """A program from an image volume can be executed: the mount is not noexec."""
    cid = _supported_container(cri)

    options = _options(cri, cid)
    run = cri.exec_sync(cid, [f"{TARGET}/bin/busybox", "true"])

    check("noexec" not in options, f"mount options of {TARGET}", "no noexec", options)
    check_equal(run.exit_code, 0, f"exit code of {TARGET}/bin/busybox true")


@pytest.mark.requirement("CRI-041")
def test_image_volume_sub_path_mounts_that_directory(cri):
    """With image_sub_path, only that directory of the image is mounted at container_path."""
    cid = _supported_container(cri, sub_path="www")

    body = cri.exec_ok(cid, ["cat", f"{TARGET}{HTTPD_PATH}"])

    check_equal(body, HTTPD_BODY.decode(), f"{TARGET}{HTTPD_PATH} (image_sub_path www)")


def _must_not_run(cri, mount: pb.Mount, what: str) -> None:
    """The container with ``mount`` is refused at CreateContainer or StartContainer."""
    code, result = _create(cri, mount)
    if code == grpc.StatusCode.OK:
        code, result = rpc_code(lambda: cri.start(str(result)))
    check(code != grpc.StatusCode.OK, what, "CreateContainer or StartContainer fails", "both OK")


@pytest.mark.requirement("CRI-041")
def test_image_volume_with_readonly_false_is_rejected(cri):
    """An image volume asked for read-write is refused: image volumes are read-only."""
    _supported_container(cri)

    _must_not_run(cri, _image_mount(cri, readonly=False), "image mount with readonly: false")


@pytest.mark.requirement("CRI-041")
def test_image_volume_with_missing_sub_path_is_rejected(cri):
    """An image_sub_path that does not exist in the image is refused."""
    _supported_container(cri)

    mount = _image_mount(cri, sub_path="no/such/dir")
    _must_not_run(cri, mount, "image mount with a missing image_sub_path")
