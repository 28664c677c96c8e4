"""Image store (content-addressed blobs shared between images) and the ImageService RPCs."""

# ruff: noqa: N802 - servicer method names are the RPC names fixed by api.proto

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from reference_impl.cri.errors import InvalidArgument, rpc
from reference_impl.cri.registry import Reference, RegistryClient, parse_reference
from reference_impl.cri.store import RecordStore, write_json_atomic
from reference_impl.image.unpack import apply_layer
from wire.layout import LayoutReader
from wire.proto.cri import api_pb2 as pb
from wire.proto.cri import api_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


class ImageStore:
    """Images as records (``images/<hex>.json``) over an OCI layout of shared blobs."""

    def __init__(self, root: Path, insecure: set[str]) -> None:
        self.root = Path(root)
        self.content = self.root / "content"
        (self.content / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        layout = self.content / "oci-layout"
        if not layout.exists():
            write_json_atomic(layout, {"imageLayoutVersion": "1.0.0"})
            write_json_atomic(self.content / "index.json", {"schemaVersion": 2, "manifests": []})
        self.records = RecordStore(self.root / "images")
        self.insecure = insecure
        self.lock = threading.RLock()

    # -- lookup -----------------------------------------------------------------------------

    def find(self, text: str) -> dict[str, Any] | None:
        """The image ``text`` names: id (``sha256:…`` or hex), tag, or ``name@digest``."""
        if not text:
            return None
        hexid = text.removeprefix("sha256:")
        record = self.records.get(hexid)
        if record is not None:
            return record
        try:
            ref = parse_reference(text)
        except InvalidArgument:
            return self.records.resolve(hexid) if len(hexid) >= 12 else None
        for record in self.records:
            if ref.digest and ref.canonical in record["repo_digests"]:
                return record
            if not ref.digest and ref.tagged in record["repo_tags"]:
                return record
        return None

    def blob_path(self, digest: str) -> Path:
        """Where blob ``digest`` lives."""
        algorithm, _, hexpart = digest.partition(":")
        return self.content / "blobs" / algorithm / hexpart

    # -- pull -------------------------------------------------------------------------------

    def pull(self, text: str, auth: pb.AuthConfig, deadline: float | None) -> dict[str, Any]:
        """Pull ``text`` (verifying every digest); returns the image record."""
        ref = parse_reference(text)
        username, password = auth.username, auth.password
        if auth.auth and not username:
            import base64

            username, _, password = base64.b64decode(auth.auth).decode().partition(":")
        client = RegistryClient(
            ref,
            insecure=self.insecure,
            username=username,
            password=password,
            token=auth.registry_token,
            deadline=deadline,
        )
        try:
            top, manifest_digest, manifest, raw = client.manifest()
            config_desc = manifest.get("config") or {}
            layers = manifest.get("layers") or []
            if not config_desc.get("digest"):
                raise InvalidArgument(f"{text}: manifest {manifest_digest} has no config")
            for desc in [config_desc, *layers]:
                path = self.blob_path(desc["digest"])
                if not path.exists():
                    client.blob_to(desc["digest"], path)
        finally:
            client.close()
        manifest_path = self.blob_path(manifest_digest)
        if not manifest_path.exists():
            manifest_path.parent.mkdir(parents=True, exist_ok=True)
            manifest_path.write_bytes(raw)
        config = json.loads(self.blob_path(config_desc["digest"]).read_bytes())
        return self._register(ref, top, manifest_digest, manifest, config_desc, config)

    def _register(
        self,
        ref: Reference,
        top: str,
        manifest_digest: str,
        manifest: dict[str, Any],
        config_desc: dict[str, Any],
        config: dict[str, Any],
    ) -> dict[str, Any]:
        image_id = config_desc["digest"]
        with self.lock:
            if ref.tagged:
                self._untag_others(ref.tagged, image_id)
            record = self.records.get(image_id.partition(":")[2]) or {
                "id": image_id.partition(":")[2],
                "image_id": image_id,
                "repo_tags": [],
                "repo_digests": [],
                "manifests": [],
                "created": time.time_ns(),
            }
            record = dict(record)
            if ref.tagged and ref.tagged not in record["repo_tags"]:
                record["repo_tags"] = [*record["repo_tags"], ref.tagged]
            canonical = f"{ref.name}@{top}"
            if canonical not in record["repo_digests"]:
                record["repo_digests"] = [*record["repo_digests"], canonical]
            if manifest_digest not in record["manifests"]:
                record["manifests"] = [*record["manifests"], manifest_digest]
            record["layers"] = manifest.get("layers") or []
            record["diff_ids"] = (config.get("rootfs") or {}).get("diff_ids") or []
            record["config"] = config.get("config") or {}
            record["size"] = int(config_desc.get("size", 0)) + sum(
                int(layer.get("size", 0)) for layer in record["layers"]
            )
            self.records.put(record)
            return record

    def _untag_others(self, tag: str, image_id: str) -> None:
        for other in self.records:
            if other["image_id"] != image_id and tag in other["repo_tags"]:
                tags = [t for t in other["repo_tags"] if t != tag]
                self.records.update(other["id"], repo_tags=tags)

    # -- remove and unpack ------------------------------------------------------------------

    def remove(self, record: dict[str, Any]) -> None:
        """Forget the image (all its tags) and delete blobs no other image uses."""
        with self.lock:
            self.records.delete(record["id"])
            keep: set[str] = set()
            for other in self.records:
                keep.update(self._blobs(other))
            for digest in self._blobs(record) - keep:
                self.blob_path(digest).unlink(missing_ok=True)

    @staticmethod
    def _blobs(record: dict[str, Any]) -> set[str]:
        layers = {layer["digest"] for layer in record.get("layers", [])}
        return layers | set(record.get("manifests", [])) | {record["image_id"]}

    def unpack(self, record: dict[str, Any], dest: Path) -> None:
        """Apply the image's layers onto ``dest`` with the safe unpacker (digests checked)."""
        dest.mkdir(parents=True, exist_ok=True)
        with LayoutReader(self.content) as reader:
            for i, (layer, diff_id) in enumerate(
                zip(record["layers"], record["diff_ids"], strict=True)
            ):
                apply_layer(reader, layer, diff_id, dest.resolve(), i)

    def usage(self) -> tuple[int, int]:
        """Bytes and inodes used by blobs."""
        total = inodes = 0
        for dirpath, _, files in os.walk(self.content):
            for name in files:
                total += os.lstat(os.path.join(dirpath, name)).st_size
                inodes += 1
        return total, inodes


def to_image(record: dict[str, Any]) -> pb.Image:
    """The CRI ``Image`` message of a record."""
    image = pb.Image(
        id=record["image_id"],
        repo_tags=record["repo_tags"],
        repo_digests=record["repo_digests"],
        size=record["size"],
        pinned=False,
    )
    user = str(record.get("config", {}).get("User") or "")
    name = user.partition(":")[0]
    if name.isdigit():
        image.uid.value = int(name)
    elif name:
        image.username = name
    image.spec.image = record["image_id"]
    return image


class ImageService(pb_grpc.ImageServiceServicer):
    """ImageService RPCs over an :class:`ImageStore`."""

    def __init__(self, store: ImageStore, container_root: Path) -> None:
        self.store = store
        self.container_root = container_root

    @rpc
    def ListImages(self, request: pb.ListImagesRequest, context: Any) -> pb.ListImagesResponse:
        """All images, or those the filter's image spec names."""
        wanted = request.filter.image.image if request.HasField("filter") else ""
        records = self.store.records.all()
        if wanted:
            found = self.store.find(wanted)
            records = [found] if found else []
        return pb.ListImagesResponse(images=[to_image(r) for r in records])

    @rpc
    def ImageStatus(self, request: pb.ImageStatusRequest, context: Any) -> pb.ImageStatusResponse:
        """The image, or an empty response when absent (not an error)."""
        if not request.image.image:
            raise InvalidArgument("image.image is empty")
        record = self.store.find(request.image.image)
        if record is None:
            return pb.ImageStatusResponse()
        resp = pb.ImageStatusResponse(image=to_image(record))
        if request.verbose:
            resp.info["info"] = json.dumps({"config": record.get("config", {})})
        return resp

    @rpc
    def PullImage(self, request: pb.PullImageRequest, context: Any) -> pb.PullImageResponse:
        """Pull the image; the answer is its id (the config digest)."""
        if not request.image.image:
            raise InvalidArgument("image.image is empty")
        remaining = context.time_remaining()
        deadline = time.monotonic() + remaining if remaining is not None else None
        record = self.store.pull(request.image.image, request.auth, deadline)
        if context.time_remaining() is not None and context.time_remaining() <= 0:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "PullImage: deadline passed")
        return pb.PullImageResponse(image_ref=record["image_id"])

    @rpc
    def RemoveImage(self, request: pb.RemoveImageRequest, context: Any) -> pb.RemoveImageResponse:
        """Remove the image with all its tags; absent images are not an error."""
        if not request.image.image:
            raise InvalidArgument("image.image is empty")
        record = self.store.find(request.image.image)
        if record is not None:
            self.store.remove(record)
        return pb.RemoveImageResponse()

    @rpc
    def ImageFsInfo(self, request: pb.ImageFsInfoRequest, context: Any) -> pb.ImageFsInfoResponse:
        """Usage of the blob store and of the containers' root filesystems."""
        used, inodes = self.store.usage()
        now = time.time_ns()
        image_fs = pb.FilesystemUsage(
            timestamp=now, fs_id=pb.FilesystemIdentifier(mountpoint=str(self.store.content))
        )
        image_fs.used_bytes.value = used
        image_fs.inodes_used.value = inodes
        total = shutil.disk_usage(self.container_root)
        ctr_fs = pb.FilesystemUsage(
            timestamp=now, fs_id=pb.FilesystemIdentifier(mountpoint=str(self.container_root))
        )
        ctr_fs.used_bytes.value = total.used
        return pb.ImageFsInfoResponse(image_filesystems=[image_fs], container_filesystems=[ctr_fs])
