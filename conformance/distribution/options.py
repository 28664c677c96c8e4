"""Target options of the distribution suite.

The official conformance suite's environment variables are accepted as aliases: the legacy
names (``OCI_ROOT_URL``, ``OCI_NAMESPACE``, ``OCI_TEST_PULL``...) and the newer ones
(``OCI_REGISTRY``, ``OCI_TLS``, ``OCI_REPO1``, ``OCI_API_*``...).
"""

from conformance.core.options import Option

WORKFLOW_ENV = (
    "OCI_TEST_PULL",
    "OCI_TEST_PUSH",
    "OCI_TEST_CONTENT_DISCOVERY",
    "OCI_TEST_CONTENT_MANAGEMENT",
)
"""When any of these is set, the workflows not set are off (as in the official suite)."""

OPTIONS = [
    Option(
        "--registry-url",
        "registry to test, e.g. http://127.0.0.1:5000 (default: start the bundled reference)",
        env=("CONFORMANCE_REGISTRY_URL", "OCI_ROOT_URL", "OCI_REGISTRY"),
    ),
    Option(
        "--registry-tls",
        "for a URL without scheme: enabled (https), insecure (https, no verification), disabled",
        env=("OCI_TLS",),
        default="enabled",
    ),
    Option(
        "--namespace",
        "repository (namespace) the tests push to; with --isolate-repositories, a prefix",
        env=("OCI_NAMESPACE", "OCI_REPO1"),
        default="conformance/test",
    ),
    Option(
        "--crossmount-namespace",
        "second repository, the source of cross-repository mounts",
        env=("OCI_CROSSMOUNT_NAMESPACE", "OCI_REPO2"),
        default=None,
    ),
    Option(
        "--isolate-repositories",
        "give every test its own repository below --namespace (turn off for registries that "
        "only allow pre-created repositories)",
        default=True,
        kind="bool",
    ),
    Option("--username", "user name for basic or token auth", env=("OCI_USERNAME",)),
    Option("--password", "password for basic or token auth", env=("OCI_PASSWORD",), secret=True),
    Option(
        "--denied-namespace",
        "a repository the credentials may pull but not push (enables the DENIED check)",
        env=("CONFORMANCE_DENIED_NAMESPACE",),
    ),
    Option("--workflow-pull", "run the pull workflow", env=("OCI_TEST_PULL",), kind="bool"),
    Option("--workflow-push", "run the push workflow", env=("OCI_TEST_PUSH",), kind="bool"),
    Option(
        "--workflow-content-discovery",
        "run the content discovery workflow",
        env=("OCI_TEST_CONTENT_DISCOVERY",),
        kind="bool",
    ),
    Option(
        "--workflow-content-management",
        "run the content management workflow",
        env=("OCI_TEST_CONTENT_MANAGEMENT",),
        kind="bool",
    ),
    Option(
        "--hide-skipped-workflows",
        "deselect the tests of disabled workflows instead of reporting them skipped",
        env=("OCI_HIDE_SKIPPED_WORKFLOWS",),
        default=False,
        kind="bool",
    ),
    Option(
        "--delete-manifest-before-blobs",
        "clean up manifests before the blobs they reference (some registries refuse otherwise)",
        env=("OCI_DELETE_MANIFEST_BEFORE_BLOBS",),
        default=True,
        kind="bool",
    ),
    Option(
        "--automatic-crossmount",
        "expect a mount without 'from' to succeed (true: 201) or not (false: 202); unset: either",
        env=("OCI_AUTOMATIC_CROSSMOUNT", "OCI_API_BLOBS_MOUNT_ANONYMOUS"),
        kind="bool",
    ),
    Option(
        "--pull-tag",
        "pull-only registries: a tag already present in --namespace",
        env=("OCI_TAG_NAME",),
    ),
    Option(
        "--pull-manifest-digest",
        "pull-only registries: the digest of the manifest --pull-tag points at",
        env=("OCI_MANIFEST_DIGEST",),
    ),
    Option(
        "--pull-blob-digest",
        "pull-only registries: a blob present in --namespace",
        env=("OCI_BLOB_DIGEST",),
    ),
    Option(
        "--spec-version",
        "distribution-spec version the registry claims: 1.0 turns off referrers checks",
        env=("OCI_VERSION",),
        default="1.1",
    ),
    Option(
        "--api-referrers",
        "check the referrers API (end-12a/b)",
        env=("OCI_API_REFERRER",),
        default=True,
        kind="bool",
    ),
    Option(
        "--api-upload-cancel",
        "check upload cancellation (end-14)",
        env=("OCI_API_BLOBS_UPLOAD_CANCEL",),
        default=True,
        kind="bool",
    ),
    Option(
        "--api-tag-param",
        "check manifest pushes with ?tag= (end-7b)",
        env=("OCI_API_MANIFESTS_TAG_PARAM",),
        default=True,
        kind="bool",
    ),
    Option(
        "--api-blob-delete",
        "check blob deletion (end-10)",
        env=("OCI_API_BLOBS_DELETE",),
        default=True,
        kind="bool",
    ),
    Option(
        "--api-manifest-delete",
        "check manifest deletion by digest (end-9)",
        env=("OCI_API_MANIFESTS_DELETE",),
        default=True,
        kind="bool",
    ),
    Option(
        "--api-tag-delete",
        "check tag deletion (end-9)",
        env=("OCI_API_TAGS_DELETE",),
        default=True,
        kind="bool",
    ),
    Option(
        "--registry-debug",
        "log every HTTP exchange at DEBUG on the terminal",
        env=("OCI_DEBUG",),
        default=False,
        kind="bool",
    ),
    Option(
        "--oci-report-dir",
        "alias of --report-dir for the official suite's OCI_REPORT_DIR / OCI_RESULTS_DIR",
        env=("OCI_REPORT_DIR", "OCI_RESULTS_DIR"),
    ),
]
