"""Real clients against the reference registry, round-tripping content byte for byte.

skopeo copies an OCI layout (made with umoci) in and out; oras-py pushes an artifact with a
subject, pulls it back and the referrers API lists it.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.distribution.target import ReferenceRegistry

pytestmark = pytest.mark.peer


def _run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceRegistry]:
    """The reference registry on a free loopback port."""
    reg = ReferenceRegistry(tmp_path_factory.mktemp("clients-registry")).start()
    yield reg
    reg.stop()


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """An OCI image layout with one tagged image holding one small file, made by umoci."""
    if shutil.which("umoci") is None:
        pytest.skip("umoci is not installed")
    path = tmp_path / "src-layout"
    content = tmp_path / "hello.txt"
    content.write_text("hello from the conformance harness\n")
    _run("umoci", "init", "--layout", str(path))
    _run("umoci", "new", "--image", f"{path}:t")
    _run("umoci", "insert", "--image", f"{path}:t", str(content), "/hello.txt")
    return path


def _manifest_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


def test_skopeo_round_trip_is_byte_identical(
    registry: ReferenceRegistry, layout: Path, tmp_path: Path
) -> None:
    """skopeo pushes an OCI layout and pulls it back with identical manifest and blobs."""
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    remote = f"docker://127.0.0.1:{registry.port}/skopeo/roundtrip:t"
    _run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:t", remote)
    out = tmp_path / "dst-layout"
    _run("skopeo", "copy", "--src-tls-verify=false", remote, f"oci:{out}:t")
    digest = _manifest_digest(layout)
    assert _manifest_digest(out) == digest
    src_blobs = sorted(p.name for p in (layout / "blobs" / "sha256").iterdir())
    dst_blobs = sorted(p.name for p in (out / "blobs" / "sha256").iterdir())
    # umoci leaves the superseded manifest and config of "new" behind; only the image's own
    # blobs travel, and each must be identical.
    manifest = json.loads((out / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    wanted = {digest} | {manifest["config"]["digest"]} | {d["digest"] for d in manifest["layers"]}
    assert {f"sha256:{n}" for n in dst_blobs} == wanted
    assert set(dst_blobs) <= set(src_blobs)
    for name in dst_blobs:
        assert filecmp.cmp(layout / "blobs/sha256" / name, out / "blobs/sha256" / name, False)
    inspect = json.loads(_run("skopeo", "inspect", "--tls-verify=false", "--raw", remote))
    assert inspect["config"]["digest"] == manifest["config"]["digest"]


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_oras_artifact_with_subject_round_trips_and_is_a_referrer(
    registry: ReferenceRegistry, tmp_path: Path, chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """oras pushes an image and an artifact referring to it; pulls match; referrers list it."""
    oras_client = pytest.importorskip("oras.client")
    import oras.oci

    monkeypatch.chdir(tmp_path)
    client = oras_client.OrasClient(hostname=f"127.0.0.1:{registry.port}", insecure=True)
    host = f"127.0.0.1:{registry.port}"
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 4000)
    client.push(
        files=[payload.name], target=f"{host}/oras/app:v1", do_chunked=chunked, chunk_size=65536
    )
    subject_resp = requests.get(
        f"{registry.url}/v2/oras/app/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    subject = oras.oci.Subject(
        mediaType=subject_resp.headers["Content-Type"],
        digest=subject_resp.headers["Docker-Content-Digest"],
        size=len(subject_resp.content),
    )
    sig = tmp_path / "signature.txt"
    sig.write_text("signed, sealed, delivered\n")
    client.push(files=[sig.name], target=f"{host}/oras/app:sig", subject=subject)

    out = tmp_path / "pulled"
    files = client.pull(target=f"{host}/oras/app:v1", outdir=str(out))
    assert [Path(f).read_bytes() for f in files] == [payload.read_bytes()]

    listing = client.do_request(f"{registry.url}/v2/oras/app/referrers/{subject.digest}")
    assert listing.status_code == 200
    referrers = listing.json()["manifests"]
    sig_manifest = requests.get(f"{registry.url}/v2/oras/app/manifests/sig", timeout=10)
    assert [d["digest"] for d in referrers] == [sig_manifest.headers["Docker-Content-Digest"]]
    assert sorted(client.get_tags(f"{host}/oras/app")) == ["sig", "v1"]
