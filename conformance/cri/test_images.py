"""Image service: pull, status by every reference form, list, remove, identity, auth."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from conformance.core import EnvironmentProblem, check, check_equal, skip_capability
from conformance.cri.helpers import rpc_code, unique
from conformance.cri.registry import NAMESPACE, LocalRegistry, Registry
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)


def _spec(ref: str) -> pb.ImageSpec:
    return pb.ImageSpec(image=ref)


def _status(cri, ref: str) -> pb.ImageStatusResponse:
    return cri.client.image.ImageStatus(pb.ImageStatusRequest(image=_spec(ref)))


def _listed(cri, repo_host_prefix: str) -> list[pb.Image]:
    images = cri.client.image.ListImages(pb.ListImagesRequest()).images
    return [
        i
        for i in images
        if any(r.startswith(repo_host_prefix) for r in [*i.repo_tags, *i.repo_digests])
    ]


def _push(cri, name: str, tags=("latest",), **kwargs):
    """Push a distinct image (its own label, so its own id) to a new repository."""
    repo = f"{NAMESPACE}/{unique(name)}"
    return cri.ctx.registry.push(repo, tuple(tags), label=repo, **kwargs)


@pytest.mark.requirement("CRI-060", "CRI-062")
def test_pull_by_tag_lists_that_tag(cri):
    """Pulling host/repo:tag returns an image ref, and the image carries exactly that tag."""
    image = _push(cri, "tagged", ("v1",))
    ref = cri.ctx.registry.ref(image.repo, "v1")

    image_ref = cri.pull(ref)

    check(image_ref, "PullImageResponse.image_ref", "non-empty", image_ref)
    status = _status(cri, ref)
    check(status.HasField("image"), f"ImageStatus({ref}).image", "set after a pull", "unset")
    check_equal(list(status.image.repo_tags), [ref], "Image.repo_tags")


@pytest.mark.requirement("CRI-062")
def test_pull_without_tag_means_latest(cri):
    """Pulling host/repo without a tag pulls and tags :latest."""
    image = _push(cri, "untagged", ("latest",))
    bare = f"{cri.ctx.registry.host}/{image.repo}"

    cri.pull(bare)

    status = _status(cri, bare)
    check(status.HasField("image"), f"ImageStatus({bare}).image", "set", "unset")
    check_equal(list(status.image.repo_tags), [bare + ":latest"], "Image.repo_tags")


@pytest.mark.requirement("CRI-062")
def test_pull_by_digest_has_no_tag_and_that_digest(cri):
    """Pulling host/repo@digest gives an image with no tags and that repo digest."""
    image = _push(cri, "bydigest", ("v1",))
    ref = cri.ctx.registry.digest_ref(image)

    cri.pull(ref)

    status = _status(cri, ref)
    check(status.HasField("image"), f"ImageStatus({ref}).image", "set", "unset")
    check_equal(list(status.image.repo_tags), [], "Image.repo_tags of a digest pull")
    check_equal(list(status.image.repo_digests), [ref], "Image.repo_digests")


@pytest.mark.requirement("CRI-060")
def test_pull_of_missing_image_fails(cri):
    """Pulling a tag the registry does not have is an error, not a success."""
    ref = cri.ctx.registry.ref(f"{NAMESPACE}/{unique('missing')}", "nope")

    code, _ = rpc_code(lambda: cri.pull(ref))

    check(code != grpc.StatusCode.OK, f"PullImage({ref}) status code", "an error", code)


@pytest.mark.requirement("CRI-061")
def test_image_status_of_absent_image_is_ok_and_empty(cri):
    """ImageStatus of an image that is not present succeeds with the image unset."""
    ref = cri.ctx.registry.ref(f"{NAMESPACE}/{unique('absent')}", "v1")

    code, resp = rpc_code(lambda: _status(cri, ref))

    check_equal(code, grpc.StatusCode.OK, f"ImageStatus({ref}) status code")
    check(not resp.HasField("image"), "ImageStatusResponse.image", "unset", resp.image)


@pytest.mark.requirement("CRI-063", "CRI-068")
def test_image_status_by_id_tag_and_digest_is_the_same_image(cri):
    """ImageStatus by id, by each tag and by digest returns one image whose id is the pull
    result."""
    image = _push(cri, "forms", ("a", "b"))
    reg = cri.ctx.registry
    image_ref = cri.pull(reg.ref(image.repo, "a"))
    cri.pull(reg.ref(image.repo, "b"))

    by_tag = _status(cri, reg.ref(image.repo, "a")).image
    check_equal(by_tag.id, image_ref, "Image.id vs PullImageResponse.image_ref")
    for ref in (reg.ref(image.repo, "b"), reg.digest_ref(image), by_tag.id):
        got = _status(cri, ref)
        check(got.HasField("image"), f"ImageStatus({ref}).image", "set", "unset")
        check_equal(got.image, by_tag, f"ImageStatus({ref}).image")
    check_equal(
        sorted(by_tag.repo_tags), sorted([reg.ref(image.repo, t) for t in "ab"]), "Image.repo_tags"
    )
    check(
        reg.digest_ref(image) in by_tag.repo_digests,
        "Image.repo_digests",
        reg.digest_ref(image),
        list(by_tag.repo_digests),
    )


@pytest.mark.requirement("CRI-064")
@pytest.mark.parametrize(
    ("user", "uid", "username"),
    [
        ("1000", 1000, ""),
        ("kit", None, "kit"),
        ("1000:1001", 1000, ""),
        ("kit:kitaudio", None, "kit"),
    ],
    ids=["uid", "name", "uid-group", "name-group"],
)
def test_image_user_is_reported_as_uid_or_username(cri, user, uid, username):
    """An image's USER shows as Image.uid when numeric and as Image.username otherwise."""
    image = _push(cri, "user", config_changes={"User": user})
    ref = cri.ctx.registry.ref(image.repo)
    cri.pull(ref)

    got = _status(cri, ref).image

    if uid is None:
        check(not got.HasField("uid"), "Image.uid", "unset for a named user", got.uid)
    else:
        check_equal(got.uid.value if got.HasField("uid") else None, uid, "Image.uid.value")
    check_equal(got.username, username, "Image.username")


@pytest.mark.requirement("CRI-065")
def test_list_images_lists_pulled_images_and_all_tags(cri):
    """ListImages lists each pulled image once, with every tag pulled."""
    reg = cri.ctx.registry
    prefix = f"{reg.host}/{NAMESPACE}/{unique('list')}"
    repos = [prefix[len(reg.host) + 1 :] + f"-{i}" for i in range(3)]
    pushed = [reg.push(repo, ("1", "2", "3"), label=repo) for repo in repos]
    for image in pushed:
        for tag in image.tags:
            cri.pull(reg.ref(image.repo, tag))

    listed = _listed(cri, prefix)

    check_equal(len(listed), 3, f"ListImages entries for {prefix}-*")
    for image in pushed:
        entry = [i for i in listed if reg.ref(image.repo, "1") in i.repo_tags]
        check_equal(len(entry), 1, f"ListImages entries tagged {reg.ref(image.repo, '1')}")
        want = sorted(reg.ref(image.repo, t) for t in image.tags)
        check_equal(sorted(entry[0].repo_tags), want, "Image.repo_tags")


@pytest.mark.requirement("CRI-066", "CRI-067")
def test_remove_image_by_one_tag_removes_all_tags(cri):
    """RemoveImage by one tag removes the image: no tag is listed or statused afterwards."""
    reg = cri.ctx.registry
    image = _push(cri, "multi", ("1", "2", "3"))
    refs = [reg.ref(image.repo, t) for t in image.tags]
    for ref in refs:
        cri.pull(ref)
    check_equal(len(_listed(cri, f"{reg.host}/{image.repo}:")), 1, "listed right after pull")

    cri.client.image.RemoveImage(pb.RemoveImageRequest(image=_spec(refs[0])))

    for ref in refs:
        check(
            not _status(cri, ref).HasField("image"),
            f"ImageStatus({ref}).image",
            "unset after removal",
            "set",
        )
    check_equal(_listed(cri, f"{reg.host}/{image.repo}:"), [], "ListImages after removal")


@pytest.mark.requirement("CRI-066")
def test_remove_absent_image_succeeds_twice(cri):
    """RemoveImage of an image that is not present succeeds, also when repeated."""
    ref = cri.ctx.registry.ref(f"{NAMESPACE}/{unique('gone')}", "v1")
    req = pb.RemoveImageRequest(image=_spec(ref))

    first, _ = rpc_code(lambda: cri.client.image.RemoveImage(req))
    second, _ = rpc_code(lambda: cri.client.image.RemoveImage(req))

    check_equal(first, grpc.StatusCode.OK, "RemoveImage(absent) status code")
    check_equal(second, grpc.StatusCode.OK, "second RemoveImage(absent) status code")


@pytest.mark.requirement("CRI-067")
def test_concurrent_removals_of_one_image_all_succeed(cri):
    """Five RemoveImage calls at once for one image all succeed and the image is gone."""
    image = _push(cri, "race")
    ref = cri.ctx.registry.ref(image.repo)
    cri.pull(ref)
    req = pb.RemoveImageRequest(image=_spec(ref))

    with ThreadPoolExecutor(5) as pool:
        codes = list(
            pool.map(lambda _: rpc_code(lambda: cri.client.image.RemoveImage(req))[0], range(5))
        )

    check_equal(codes, [grpc.StatusCode.OK] * 5, "status codes of concurrent RemoveImage")
    check(not _status(cri, ref).HasField("image"), f"ImageStatus({ref}).image", "unset", "set")


@pytest.mark.requirement("CRI-068")
def test_container_image_id_matches_image_id(cri):
    """A container's image_id, when reported, is the Image.id of its image."""
    image = _push(cri, "ident")
    ref = cri.ctx.registry.ref(image.repo)
    image_ref = cri.pull(ref)
    pod_id, pod_config = cri.run_pod()
    config = cri.container_config(command=("sleep", "3600"))
    config.image.image = ref
    cid = cri.create_container(pod_id, pod_config, config)

    status = cri.status(cid)

    if not status.image_id:
        skip_capability("ContainerStatus.image_id", "empty: the runtime predates cri-api v0.30")
    check_equal(status.image_id, image_ref, "ContainerStatus.image_id")


@pytest.mark.requirement("CRI-069")
def test_image_fs_info_reports_image_filesystem(cri):
    """ImageFsInfo names the image filesystem with a timestamp and used bytes."""
    resp = cri.client.image.ImageFsInfo(pb.ImageFsInfoRequest())

    check(resp.image_filesystems, "ImageFsInfoResponse.image_filesystems", "non-empty", resp)
    fs = resp.image_filesystems[0]
    check(fs.timestamp > 0, "FilesystemUsage.timestamp", "> 0", fs.timestamp)
    check(fs.fs_id.mountpoint, "FilesystemUsage.fs_id.mountpoint", "non-empty", fs.fs_id)
    check(fs.HasField("used_bytes"), "FilesystemUsage.used_bytes", "set", fs)


# -- authentication ------------------------------------------------------------------------


def _htpasswd(user: str, password: str) -> str:
    with warnings.catch_warnings():
        # crypt is deprecated (PEP 594) but is the only bcrypt in the standard library here;
        # docker-registry's htpasswd accepts only bcrypt hashes
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    if not hashed or not hashed.startswith("$2"):
        raise EnvironmentProblem("libc crypt() cannot make bcrypt hashes for htpasswd")
    return f"{user}:{hashed}\n"


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[tuple[Registry, tuple[str, str]]]:
    """A second registry that requires basic authentication."""
    creds = ("cri-user", unique("pw"))
    local = LocalRegistry(htpasswd=_htpasswd(*creds))
    host = local.start()
    try:
        yield Registry(host, auth=creds), creds
    finally:
        with contextlib.suppress(Exception):
            local.stop()


@pytest.mark.requirement("CRI-070")
def test_pull_with_basic_auth_needs_credentials(cri, auth_registry):
    """A pull from a registry requiring basic auth fails without and works with credentials."""
    registry, (user, password) = auth_registry
    image = registry.push(f"{NAMESPACE}/{unique('auth')}")
    ref = registry.ref(image.repo)

    denied, _ = rpc_code(lambda: cri.pull(ref))
    image_ref = cri.pull(ref, auth=pb.AuthConfig(username=user, password=password))

    check(denied != grpc.StatusCode.OK, f"PullImage({ref}) without credentials", "an error", denied)
    check(image_ref, "PullImageResponse.image_ref with credentials", "non-empty", image_ref)


@pytest.mark.requirement("CRI-071")
def test_list_images_filter_selects_one_image(cri):
    """ListImages with an image filter returns only that image."""
    reg = cri.ctx.registry
    first, second = _push(cri, "lfa"), _push(cri, "lfb")
    cri.pull(reg.ref(first.repo))
    cri.pull(reg.ref(second.repo))

    flt = pb.ImageFilter(image=_spec(reg.ref(first.repo)))
    images = cri.client.image.ListImages(pb.ListImagesRequest(filter=flt)).images

    tags = [list(i.repo_tags) for i in images]
    check_equal(tags, [[reg.ref(first.repo)]], "repo_tags of ListImages(filter)")
