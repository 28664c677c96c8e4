"""Unit tests of the reference CRI server's store, log writer and image reference parser."""

from __future__ import annotations

import json
import re

import pytest

from reference_impl.cri.errors import InvalidArgument
from reference_impl.cri.logs import CriLogWriter, StreamSplitter, timestamp
from reference_impl.cri.registry import parse_reference
from reference_impl.cri.store import RecordStore

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) (.*)$")


def test_records_survive_a_new_store_on_the_same_directory(tmp_path):
    """A record written by one store is read back by a store opened later (a restart)."""
    store = RecordStore(tmp_path)
    store.put({"id": "abc123", "state": "READY"})
    store.update("abc123", state="NOTREADY")

    again = RecordStore(tmp_path)

    assert again.get("abc123") == {"id": "abc123", "state": "NOTREADY"}


def test_unreadable_record_is_skipped_and_kept_on_disk(tmp_path):
    """A corrupt record file is neither loaded nor deleted, and other records still load."""
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "good.json").write_text(json.dumps({"id": "good"}))

    store = RecordStore(tmp_path)

    assert [r["id"] for r in store.all()] == ["good"]
    assert (tmp_path / "bad.json").read_text() == "{not json"


def test_delete_removes_the_file_and_is_idempotent(tmp_path):
    """Deleting a record removes its file; deleting it again is not an error."""
    store = RecordStore(tmp_path)
    store.put({"id": "x1"})

    store.delete("x1")
    store.delete("x1")

    assert store.get("x1") is None
    assert not (tmp_path / "x1.json").exists()


def test_resolve_accepts_a_unique_prefix_only(tmp_path):
    """A short id resolves when it names one record and not when it is ambiguous."""
    store = RecordStore(tmp_path)
    store.put({"id": "aa11"})
    store.put({"id": "aa22"})

    assert store.resolve("aa1")["id"] == "aa11"
    assert store.resolve("aa") is None
    assert store.resolve("") is None


def test_timestamp_has_nanosecond_digits():
    """Log timestamps are RFC 3339 with nine fractional digits and a Z."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", timestamp())


def _records(path):
    return [LINE.match(line).groups()[1:] for line in path.read_text().splitlines()]


def test_log_lines_are_full_records_and_a_tail_is_partial(tmp_path):
    """Complete lines become F records per stream; output without a newline stays P."""
    path = tmp_path / "c.log"
    writer = CriLogWriter(path)
    out, err = StreamSplitter(writer, "stdout"), StreamSplitter(writer, "stderr")

    out.feed(b"one\ntw")
    err.feed(b"oops\n")
    out.feed(b"o\nthree")
    out.close()
    err.close()
    writer.close()

    assert _records(path) == [
        ("stdout", "F", "one"),
        ("stderr", "F", "oops"),
        ("stdout", "F", "two"),
        ("stdout", "P", "three"),
    ]


def test_long_lines_are_split_into_partial_records(tmp_path):
    """A line longer than the limit is written as P records ending with an F record."""
    path = tmp_path / "c.log"
    writer = CriLogWriter(path)
    out = StreamSplitter(writer, "stdout", limit=4)

    out.feed(b"abcdefghij\n")
    writer.close()

    assert _records(path) == [
        ("stdout", "P", "abcd"),
        ("stdout", "P", "efgh"),
        ("stdout", "F", "ij"),
    ]


def test_reopen_starts_a_new_file_and_the_old_stops_growing(tmp_path):
    """After the file is moved away and reopened, new records go to a new file at the path."""
    path = tmp_path / "c.log"
    writer = CriLogWriter(path)
    writer.record("stdout", b"before", partial=False)
    path.rename(tmp_path / "c.log.1")

    writer.reopen()
    writer.record("stdout", b"after", partial=False)
    writer.close()

    assert _records(tmp_path / "c.log.1") == [("stdout", "F", "before")]
    assert _records(path) == [("stdout", "F", "after")]


@pytest.mark.parametrize(
    ("text", "name", "tag", "digest"),
    [
        ("busybox", "docker.io/library/busybox", "latest", None),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b", "latest", None),
        ("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b", "v1", None),
        ("localhost/x@sha256:" + "a" * 64, "localhost/x", None, "sha256:" + "a" * 64),
        ("quay.io/o/r:t@sha256:" + "b" * 64, "quay.io/o/r", "t", "sha256:" + "b" * 64),
    ],
)
def test_references_are_normalised_like_containerd(text, name, tag, digest):
    """Short names get docker.io/library, untagged names :latest; digests are kept."""
    ref = parse_reference(text)

    assert (ref.name, ref.tag, ref.digest) == (name, tag, digest)


@pytest.mark.parametrize(
    "text", ["", " busybox", "UPPER/case", "reg:5000/a:b@sha256:short", "a/b:bad tag"]
)
def test_invalid_references_are_rejected(text):
    """Malformed references are an invalid-argument error, never a pull attempt."""
    with pytest.raises(InvalidArgument):
        parse_reference(text)
