"""Unit tests of the reference registry's internals: storage, validation, auth, error mapping."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from reference_impl.distribution import manifests
from reference_impl.distribution.auth import AuthConfig, Authenticator, parse_basic, parse_scope
from reference_impl.distribution.errors import RegistryError, error_response
from reference_impl.distribution.storage import Storage, check_name, check_tag
from wire import digest as digestlib
from wire import mediatypes as mt


class TestNames:
    """Repository names and tags follow the spec's grammar."""

    @pytest.mark.parametrize("name", ["a", "a/b", "a.b/c__d/e-f", "a--b", "0/1"])
    def test_valid_names_pass(self, name: str) -> None:
        """Names inside the grammar are returned unchanged."""
        assert check_name(name) == name

    @pytest.mark.parametrize("name", ["A", "a//b", "-a", "a-", "a/.b", "a___b", "a" * 256, ""])
    def test_invalid_names_raise_name_invalid(self, name: str) -> None:
        """Names outside the grammar raise NAME_INVALID."""
        with pytest.raises(RegistryError) as err:
            check_name(name)
        assert err.value.code == "NAME_INVALID"

    @pytest.mark.parametrize("tag", ["-a", ".a", "a" * 129, "a+b", ""])
    def test_invalid_tags_are_refused(self, tag: str) -> None:
        """Tags outside the grammar are refused with a 4xx code."""
        with pytest.raises(RegistryError) as err:
            check_tag(tag)
        assert err.value.status == 400


class TestStorage:
    """Uploads are verified before they are published; tags list sorted."""

    def _upload(self, storage: Storage, data: bytes) -> object:
        upload = storage.start_upload("r/x")
        with upload.open_append() as f:
            f.write(data)
        return upload

    def test_commit_publishes_verified_blob(self, tmp_path: Path) -> None:
        """A committed upload is linked into its repository with the exact bytes."""
        storage = Storage(tmp_path)
        upload = self._upload(storage, b"hello")
        digest = digestlib.compute(b"hello")
        storage.commit_upload(upload, digest)  # type: ignore[arg-type]
        assert storage.blob_file("r/x", digest).read_bytes() == b"hello"
        assert not storage.has_blob("r/other", digest)

    def test_commit_with_wrong_digest_removes_the_session(self, tmp_path: Path) -> None:
        """A digest mismatch raises DIGEST_INVALID and drops the staged bytes."""
        storage = Storage(tmp_path)
        upload = self._upload(storage, b"hello")
        with pytest.raises(RegistryError) as err:
            storage.commit_upload(upload, digestlib.compute(b"other"))  # type: ignore[arg-type]
        assert err.value.code == "DIGEST_INVALID"
        assert not any((tmp_path / "uploads").iterdir())
        assert not any((tmp_path / "blobs").rglob("*"))

    def test_sessions_survive_a_new_storage_object(self, tmp_path: Path) -> None:
        """An upload session is found again after a restart (a fresh Storage on the root)."""
        upload = self._upload(Storage(tmp_path), b"abc")
        again = Storage(tmp_path).get_upload("r/x", upload.id)  # type: ignore[attr-defined]
        assert again.size == 3

    def test_tags_are_sorted(self, tmp_path: Path) -> None:
        """Tags come back in byte order whatever order they were set in."""
        storage = Storage(tmp_path)
        for tag in ("b", "A", "a", "c10", "c9"):
            storage.set_tag("r/x", tag, "sha256:" + "0" * 64)
        assert storage.tags("r/x") == ["A", "a", "b", "c10", "c9"]

    def test_stale_upload_sessions_are_reaped(self, tmp_path: Path) -> None:
        """Sessions older than the limit are removed."""
        storage = Storage(tmp_path)
        self._upload(storage, b"x")
        assert storage.reap_uploads(max_age=-1) == 1
        assert not any((tmp_path / "uploads").iterdir())


class TestManifestParsing:
    """Pushed manifests are checked before storage."""

    def test_artifact_type_falls_back_to_config_media_type(self) -> None:
        """An image without artifactType reports its config media type."""
        doc = {
            "schemaVersion": 2,
            "mediaType": mt.IMAGE_MANIFEST,
            "config": {"mediaType": mt.IMAGE_CONFIG, "digest": mt.EMPTY_JSON_DIGEST, "size": 2},
            "layers": [],
        }
        parsed = manifests.parse(mt.IMAGE_MANIFEST, json.dumps(doc).encode())
        assert parsed.artifact_type == mt.IMAGE_CONFIG

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            (None, b"{}"),
            ("text/plain", b"{}"),
            (mt.IMAGE_MANIFEST, b"nope"),
            (mt.IMAGE_MANIFEST, b'{"schemaVersion": 1}'),
            (mt.IMAGE_INDEX, b'{"schemaVersion": 2, "mediaType": "x", "manifests": []}'),
            (mt.IMAGE_INDEX, b'{"schemaVersion": 2, "manifests": [{"digest": "sha256:1"}]}'),
        ],
    )
    def test_invalid_manifests_raise_manifest_invalid(
        self, content_type: str | None, body: bytes
    ) -> None:
        """Malformed manifests raise MANIFEST_INVALID."""
        with pytest.raises(RegistryError) as err:
            manifests.parse(content_type, body)
        assert err.value.code == "MANIFEST_INVALID"


class TestAuth:
    """Basic credentials, scopes and tokens."""

    def _auth(self) -> Authenticator:
        return Authenticator(
            AuthConfig(
                "token",
                users={"u": "p"},
                access=[
                    {"user": "u", "repository": "ro/*", "actions": ["pull"]},
                    {"user": "u", "repository": "*", "actions": ["pull", "push"]},
                ],
            )
        )

    def test_parse_helpers(self) -> None:
        """Basic headers and scopes parse; garbage gives None."""
        assert parse_basic("Basic " + base64.b64encode(b"u:p").decode()) == ("u", "p")
        assert parse_basic("Basic !!!") is None
        assert parse_scope("repository:a/b:pull,push") == ("a/b", {"pull", "push"})
        assert parse_scope("registry:catalog:*") is None

    def test_token_grants_only_allowed_actions(self) -> None:
        """A token carries the granted subset; a refused requested action is DENIED."""
        auth = self._auth()
        token = auth.issue("u", ["repository:ro/x:pull,push"])["token"]
        auth.authorize(f"Bearer {token}", "http://h", "ro/x", "pull")
        with pytest.raises(RegistryError) as err:
            auth.authorize(f"Bearer {token}", "http://h", "ro/x", "push")
        assert err.value.code == "DENIED"

    def test_missing_or_forged_token_is_unauthorized_with_challenge(self) -> None:
        """No token, or a tampered one, gives 401 with a Bearer challenge naming the scope."""
        auth = self._auth()
        token = auth.issue("u", ["repository:a:pull"])["token"]
        for header in (None, f"Bearer {token[:-2]}xx"):
            with pytest.raises(RegistryError) as err:
                auth.authorize(header, "http://h", "a", "pull")
            assert err.value.code == "UNAUTHORIZED"
            assert 'scope="repository:a:pull"' in err.value.headers["WWW-Authenticate"]


def test_error_response_has_the_spec_shape() -> None:
    """Every refusal maps to {"errors": [{code, message, detail}]} with its status."""
    resp = error_response(RegistryError("BLOB_UNKNOWN", {"digest": "x"}))
    assert resp.status_code == 404
    assert json.loads(bytes(resp.body)) == {
        "errors": [
            {
                "code": "BLOB_UNKNOWN",
                "message": "blob unknown to registry",
                "detail": {"digest": "x"},
            }
        ]
    }
    head = error_response(RegistryError("MANIFEST_UNKNOWN"), head=True)
    assert head.body == b""
    assert int(head.headers["content-length"]) > 0


def test_unexpected_exceptions_map_to_500_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug answers 500 and logs; nothing internal leaks into the body."""
    resp = error_response(RuntimeError("secret internals"))
    assert resp.status_code == 500
    assert b"secret" not in bytes(resp.body)
