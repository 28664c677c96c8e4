"""Top-level config properties: ociVersion, extensibility, root and mounts (config.md)."""

from __future__ import annotations

import errno

import pytest

from conformance.core import check, check_equal
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, run_probe
from conformance.runtime.observe import mount_at, mountinfo


@pytest.mark.requirement("config-oci-version")
def test_non_semver_oci_version_is_rejected(container: Container, bundle: Bundle) -> None:
    """A config whose ociVersion is not a SemVer string fails create."""
    bundle.config["ociVersion"] = "not-a-version"

    res = container.create()

    check(not res.ok, "create with ociVersion 'not-a-version'", "a non-zero exit", res.returncode)


@pytest.mark.requirement("config-unknown-properties")
def test_unknown_properties_and_annotations_are_ignored(
    container: Container, bundle: Bundle
) -> None:
    """Unknown keys at several levels and unknown annotations do not stop the container."""
    bundle.config["org.example.conformance"] = {"nested": [1, 2]}
    bundle.process["conformanceUnknown"] = True
    bundle.linux["conformanceUnknown"] = "x"
    bundle.config["annotations"] = {"org.example.conformance.unknown": "yes"}

    report = run_probe(container, bundle)

    check_equal(report["args"][0], "/probe", "the program ran")


@pytest.mark.requirement("config-root-path")
def test_absolute_root_path_is_used(container: Container, bundle: Bundle) -> None:
    """root.path may be an absolute path."""
    bundle.config["root"]["path"] = str(bundle.rootfs)
    (bundle.rootfs / "marker-absolute").write_text("here")

    report = run_probe(container, bundle, "--read", "/marker-absolute")

    check_equal(report["read"]["/marker-absolute"].get("data"), "here", "/marker-absolute")


@pytest.mark.requirement("config-mounts-order")
def test_mounts_are_made_in_listed_order(container: Container, bundle: Bundle) -> None:
    """Nested mounts are made in config order, so a later mount hides what an earlier made."""
    (bundle.rootfs / "m" / "a" / "b").mkdir(parents=True)
    for dest, size in (("/m", "1m"), ("/m/a", "2m"), ("/m/a/b", "3m"), ("/m/a", "4m")):
        bundle.add_mount(
            {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": [f"size={size}"]}
        )

    report = run_probe(container, bundle, "--stat", "/m/a/b")

    # The second /m/a tmpfs is empty: it covers the first one and the /m/a/b mount below it.
    hidden = report["stat"]["/m/a/b"]
    check_equal(hidden.get("errno"), errno.ENOENT, "stat /m/a/b (covered by the last mount)")
    table = [(m.point, m.super_options) for m in mountinfo(report) if m.point.startswith("/m")]
    top = mount_at(report, "/m/a")
    check(
        top is not None and "size=4096k" in top.super_options,
        "topmost mount at /m/a",
        "the 4m tmpfs listed last",
        table,
    )


@pytest.mark.requirement("config-mounts-options")
def test_mount_options_are_applied(container: Container, bundle: Bundle) -> None:
    """ro, nosuid, nodev and noexec appear on the mount and ro refuses writes."""
    bundle.add_mount(
        {
            "destination": "/opts",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["ro", "nosuid", "nodev", "noexec", "mode=755"],
        }
    )

    report = run_probe(container, bundle, "--mkdir", "/opts/new")

    mount = mount_at(report, "/opts")
    check(mount is not None, "mountinfo /opts", "a mount", "none")
    assert mount is not None
    for option in ("ro", "nosuid", "nodev", "noexec"):
        check(option in mount.options, "mountinfo /opts options", option, sorted(mount.options))
    check_equal(report["mkdir"]["/opts/new"].get("errno"), errno.EROFS, "mkdir /opts/new errno")


@pytest.mark.requirement("config-mounts-options")
def test_bind_mount_can_be_made_read_only(container: Container, bundle: Bundle) -> None:
    """A bind mount with ro refuses writes while the source stays writable on the host."""
    source = bundle.path / "rw-source"
    source.mkdir()
    bundle.add_mount(
        {"destination": "/robind", "type": "bind", "source": str(source), "options": ["bind", "ro"]}
    )

    report = run_probe(container, bundle, "--write", "/robind/file")

    check_equal(report["write"]["/robind/file"].get("errno"), errno.EROFS, "write /robind/file")
    check(not (source / "file").exists(), str(source / "file"), "not created", "created")


@pytest.mark.requirement("config-mounts-bind")
def test_relative_bind_source_is_taken_from_the_bundle(
    container: Container, bundle: Bundle
) -> None:
    """A relative bind source names a path inside the bundle directory."""
    data = bundle.path / "data"
    data.mkdir()
    (data / "hello").write_text("from the bundle")
    bundle.add_mount(
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind"]}
    )

    report = run_probe(container, bundle, "--read", "/data/hello")

    check_equal(report["read"]["/data/hello"].get("data"), "from the bundle", "/data/hello")


@pytest.mark.requirement("config-mounts-bind")
def test_bind_mounted_file_shows_the_source(container: Container, bundle: Bundle) -> None:
    """A file can be bind-mounted onto a file path; writes go through to the host file."""
    source = bundle.path / "single-file"
    source.write_text("original")
    (bundle.rootfs / "etc" / "bound").write_text("")
    bundle.add_mount(
        {"destination": "/etc/bound", "type": "bind", "source": str(source), "options": ["bind"]}
    )

    report = run_probe(container, bundle, "--read", "/etc/bound", "--write", "/etc/bound")

    check_equal(report["read"]["/etc/bound"].get("data"), "original", "/etc/bound content")
    check_equal(source.read_text(), "xriginal", "host file after the container wrote one byte")
