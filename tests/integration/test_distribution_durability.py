"""The reference registry keeps committed content across kill -9 and concurrent uploads."""

from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path

import requests

from conformance.distribution import data
from conformance.distribution.target import ReferenceRegistry
from wire import mediatypes as mt

TIMEOUT = 30


def _push_blob(url: str, repo: str, blob: data.Blob) -> requests.Response:
    start = requests.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=TIMEOUT)
    assert start.status_code == 202, start.text
    return requests.put(
        f"{url}{start.headers['Location']}?digest={blob.digest}", data=blob.data, timeout=TIMEOUT
    )


def _push_image(url: str, repo: str, tag: str) -> data.Manifest:
    img = data.image(layers=2, layer_size=1 << 20)
    for blob in img.blobs:
        assert _push_blob(url, repo, blob).status_code == 201
    resp = requests.put(
        f"{url}/v2/{repo}/manifests/{tag}",
        data=img.body,
        headers={"Content-Type": img.media_type},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 201, resp.text
    return img


def test_committed_content_survives_kill_9(tmp_path: Path) -> None:
    """After SIGKILL and a restart on the same root, pushed content pulls back byte-identical."""
    registry = ReferenceRegistry(tmp_path).start()
    try:
        img = _push_image(registry.url, "crash/test", "v1")
        half = requests.post(f"{registry.url}/v2/crash/test/blobs/uploads/", timeout=TIMEOUT)
        location = half.headers["Location"]
        patched = requests.patch(
            f"{registry.url}{location}",
            data=os.urandom(4096),
            headers={"Content-Range": "0-4095"},
            timeout=TIMEOUT,
        )
        assert patched.status_code == 202
        registry.kill()
        registry.start()
        got = requests.get(
            f"{registry.url}/v2/crash/test/manifests/v1",
            headers={"Accept": mt.IMAGE_MANIFEST},
            timeout=TIMEOUT,
        )
        assert got.status_code == 200
        assert got.content == img.body
        for blob in img.blobs:
            pulled = requests.get(f"{registry.url}/v2/crash/test/blobs/{blob.digest}", timeout=60)
            assert pulled.content == blob.data
        # The interrupted session is still resumable where it stopped.
        status = requests.get(f"{registry.url}{location}", timeout=TIMEOUT)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-4095"
        assert not list((registry.root / "tmp").iterdir())
    finally:
        registry.stop()


def test_concurrent_uploads_of_one_blob_are_safe(tmp_path: Path) -> None:
    """Eight clients uploading the same 4 MiB blob at once all succeed and the blob is intact."""
    blob = data.Blob.random(4 << 20)
    with ReferenceRegistry(tmp_path) as registry:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda i: _push_blob(registry.url, f"race/r{i % 2}", blob), range(8))
            )
        assert [a.status_code for a in answers] == [201] * 8
        for repo in ("race/r0", "race/r1"):
            got = requests.get(f"{registry.url}/v2/{repo}/blobs/{blob.digest}", timeout=60)
            assert got.content == blob.data
        assert not list((registry.root / "uploads").iterdir())


def test_failed_upload_leaves_nothing_and_changes_nothing(tmp_path: Path) -> None:
    """A digest mismatch removes the session's bytes and leaves stored content untouched."""
    with ReferenceRegistry(tmp_path) as registry:
        good = data.Blob.random(1000)
        assert _push_blob(registry.url, "keep/it", good).status_code == 201
        bad = data.Blob(os.urandom(1000), good.digest)
        answer = _push_blob(registry.url, "keep/it", bad)
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["code"] == "DIGEST_INVALID"
        got = requests.get(f"{registry.url}/v2/keep/it/blobs/{good.digest}", timeout=TIMEOUT)
        assert got.content == good.data
        assert not list((registry.root / "uploads").iterdir())
