"""The distribution suite's catalogue: OCI Distribution Spec v1.1.1, in our own words.

Endpoint ids (``end-1`` ... ``end-14``) and error-code ids (``code-1`` ... ``code-14``) are the
spec's own. ``end-4c``, ``end-7b`` and ``end-14`` exist only on the spec's main branch; they
are catalogued at MAY, so a registry without them is never failed under v1.1.1. The error-code
ids are SHOULD: the spec fixes the status codes (checked under the endpoint ids) and the code
vocabulary (``error-body``), while which code a situation names is guidance.
"""

from __future__ import annotations

from conformance.core.catalogue import Catalogue, Level, Requirement

MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY


def _r(
    rid: str, level: Level, section: str, summary: str, anchor: str, note: str = ""
) -> Requirement:
    return Requirement(rid, level, section, summary, f"spec.md#{anchor}", note)


_ENDPOINTS = [
    _r(
        "end-1",
        MUST,
        "Determining support",
        "GET /v2/ answers 200 when the registry implements the spec (401 when it wants credentials"
        " first).",
        "determining-support",
    ),
    _r(
        "end-2",
        MUST,
        "Pulling blobs",
        "GET and HEAD of /v2/<name>/blobs/<digest> answer 200 for stored content and 404 for "
        "unknown content; GET returns exactly the stored bytes.",
        "pulling-blobs",
    ),
    _r(
        "end-3",
        MUST,
        "Pulling manifests",
        "GET and HEAD of /v2/<name>/manifests/<tag or digest> answer 200 for stored manifests and "
        "404 for unknown ones.",
        "pulling-manifests",
    ),
    _r(
        "end-4a",
        MUST,
        "Pushing blobs",
        "POST /v2/<name>/blobs/uploads/ opens an upload session: 202 with a Location to send the "
        "content to.",
        "post-then-put",
    ),
    _r(
        "end-4b",
        MAY,
        "Single POST",
        "POST /v2/<name>/blobs/uploads/?digest=<d> with the body stores the blob (201 with "
        "Location) or falls back to a session (202).",
        "single-post",
        "202 means the registry does not offer single-request uploads: not applicable.",
    ),
    _r(
        "end-4c",
        MAY,
        "Pushing blobs",
        "POST /v2/<name>/blobs/uploads/?digest-algorithm=<alg> opens a session for content hashed "
        "with that algorithm (spec main branch).",
        "pushing-blobs",
        "Added after v1.1.1 (opencontainers/distribution-spec#543).",
    ),
    _r(
        "end-5",
        MUST,
        "Pushing a blob in chunks",
        "PATCH on the session with a Content-Range appends one chunk and answers 202 with Location"
        " and the Range received so far.",
        "pushing-a-blob-in-chunks",
    ),
    _r(
        "end-6",
        MUST,
        "POST then PUT",
        "PUT on the session with ?digest=<d> (optionally carrying the last chunk) finishes the "
        "upload: 201 with the blob's Location.",
        "post-then-put",
    ),
    _r(
        "end-7a",
        MUST,
        "Pushing manifests",
        "PUT /v2/<name>/manifests/<tag or digest> with the manifest's media type as Content-Type "
        "stores it: 201 with Location.",
        "pushing-manifests",
    ),
    _r(
        "end-7b",
        MAY,
        "Pushing manifests",
        "PUT /v2/<name>/manifests/<digest>?tag=a&tag=b applies every tag and echoes each in an "
        "OCI-Tag header (spec main branch).",
        "pushing-manifests",
        "Added after v1.1.1 (opencontainers/distribution-spec#600); a registry that ignores the "
        "parameters is not applicable.",
    ),
    _r(
        "end-8a",
        MUST,
        "Listing tags",
        "GET /v2/<name>/tags/list answers 200 with the repository name and its tags.",
        "listing-tags",
    ),
    _r(
        "end-8b",
        MUST,
        "Listing tags",
        "GET /v2/<name>/tags/list?n=<int>&last=<tag> pages through the tags.",
        "listing-tags",
    ),
    _r(
        "end-9",
        MUST,
        "Deleting tags",
        "DELETE /v2/<name>/manifests/<tag or digest> answers 202 and the tag or manifest is gone; "
        "400 or 405 when deletion is not offered.",
        "deleting-tags",
    ),
    _r(
        "end-10",
        MUST,
        "Deleting blobs",
        "DELETE /v2/<name>/blobs/<digest> answers 202 and the blob is gone; 404 when unknown; 405 "
        "when deletion is not offered.",
        "deleting-blobs",
    ),
    _r(
        "end-11",
        MUST,
        "Mounting a blob from another repository",
        "POST ...?mount=<d>&from=<repo> either mounts the blob (201 with Location) or opens an "
        "ordinary session (202).",
        "mounting-a-blob-from-another-repository",
    ),
    _r(
        "end-12a",
        MUST,
        "Listing referrers",
        "GET /v2/<name>/referrers/<digest> answers 200 with an image index of the manifests whose "
        "subject is that digest, never 404 for an unknown subject.",
        "listing-referrers",
    ),
    _r(
        "end-12b",
        SHOULD,
        "Listing referrers",
        "GET /v2/<name>/referrers/<digest>?artifactType=<t> returns only referrers of that type "
        "and says so with OCI-Filters-Applied.",
        "listing-referrers",
        "Filtering itself is optional; returning other types while claiming the filter is a "
        "failure.",
    ),
    _r(
        "end-13",
        MUST,
        "Pushing a blob in chunks",
        "GET on an upload session answers 204 with Location and the Range received so far.",
        "pushing-a-blob-in-chunks",
    ),
    _r(
        "end-14",
        MAY,
        "Pushing blobs",
        "DELETE on an upload session cancels it (204) and the session is gone afterwards (spec "
        "main branch).",
        "pushing-blobs",
        "Added after v1.1.1 (opencontainers/distribution-spec#594).",
    ),
]

_CODES = [
    ("code-1", "BLOB_UNKNOWN", "a blob that is not stored"),
    ("code-2", "BLOB_UPLOAD_INVALID", "a chunk the session cannot accept"),
    ("code-3", "BLOB_UPLOAD_UNKNOWN", "an upload session that does not exist"),
    (
        "code-4",
        "DIGEST_INVALID",
        "content whose digest is not the one given, or a malformed digest",
    ),
    ("code-5", "MANIFEST_BLOB_UNKNOWN", "a manifest naming blobs the repository lacks"),
    ("code-6", "MANIFEST_INVALID", "a manifest that is not valid"),
    ("code-7", "MANIFEST_UNKNOWN", "a manifest that is not stored"),
    ("code-8", "NAME_INVALID", "a repository name outside the grammar"),
    ("code-9", "NAME_UNKNOWN", "a repository the registry does not know"),
    ("code-10", "SIZE_INVALID", "a chunk whose length disagrees with its Content-Range"),
    ("code-11", "UNAUTHORIZED", "a request without acceptable credentials"),
    ("code-12", "DENIED", "an authenticated request for access the identity does not have"),
    ("code-13", "UNSUPPORTED", "an operation the registry does not offer"),
    ("code-14", "TOOMANYREQUESTS", "a client over the registry's rate limit (with Retry-After)"),
]

_ERROR_CODES = [
    _r(
        rid,
        SHOULD,
        "Error codes",
        f"An error answer to {what} names the code {code}.",
        "error-codes",
    )
    for rid, code, what in _CODES
]

_BEHAVIOUR = [
    _r(
        "error-body",
        MUST,
        "Error codes",
        "A JSON error body is an object with an 'errors' array whose entries carry a 'code' from "
        "the spec's list, and optional 'message' and 'detail'.",
        "error-codes",
        "A 4xx body that is not JSON is allowed; a JSON one must have this shape.",
    ),
    _r(
        "no-5xx-for-bad-input",
        MUST,
        "Error codes",
        "Malformed requests (bad digests, names, ranges, manifests) are answered with a 4xx, never"
        " a 5xx.",
        "error-codes",
        "Derived: the endpoint table lists only 4xx failure codes for client mistakes.",
    ),
    _r(
        "warning-header",
        MUST,
        "Warnings",
        "A Warning header uses warn-code 299, warn-agent '-', a quoted text and no date.",
        "warnings",
    ),
    _r(
        "name-grammar",
        MUST,
        "Definitions",
        "Repository names outside the spec's grammar are refused with a 4xx, and multi-component "
        "names inside it are served.",
        "pulling-manifests",
    ),
    _r(
        "tag-grammar",
        MUST,
        "Pulling manifests",
        "Tags of up to 128 characters from the tag grammar are accepted; tags outside it are "
        "refused with a 4xx.",
        "pulling-manifests",
    ),
    _r(
        "digest-algorithms",
        MUST,
        "Pulling blobs",
        "Content addressed by sha256 and by sha512 digests is stored and served under the digest "
        "the client used.",
        "pulling-blobs",
        "A registry refusing sha512 with 400 DIGEST_INVALID is not applicable (algorithm support "
        "is optional).",
    ),
    _r(
        "digest-header",
        SHOULD,
        "Pulling blobs",
        "GET and HEAD of blobs and manifests carry Docker-Content-Digest with the content's "
        "digest.",
        "pulling-blobs",
        "MUST on the spec's main branch (opencontainers/distribution-spec#595).",
    ),
    _r(
        "digest-header-value",
        MUST,
        "Pulling blobs",
        "When Docker-Content-Digest is sent, it is the digest of the content the request named.",
        "pulling-blobs",
    ),
    _r(
        "head-content-length",
        SHOULD,
        "Checking if content exists in the registry",
        "HEAD answers carry Content-Length equal to the content's size and no body.",
        "checking-if-content-exists-in-the-registry",
    ),
    _r(
        "blob-range",
        SHOULD,
        "Pulling blobs",
        "Blob GET honours a byte Range: 206 with Content-Range and exactly those bytes; an "
        "unsatisfiable range is 416.",
        "pulling-blobs",
        "A registry answering 200 with the whole body ignores Range (allowed by RFC 9110): not "
        "applicable.",
    ),
    _r(
        "manifest-content-type",
        MUST,
        "Pulling manifests",
        "A manifest is served with Content-Type equal to its mediaType.",
        "pulling-manifests",
    ),
    _r(
        "manifest-bytes-unchanged",
        MUST,
        "Pushing manifests",
        "A manifest is served byte for byte as pushed, unknown fields included, so its digest is "
        "stable.",
        "pushing-manifests",
    ),
    _r(
        "manifest-digest-header",
        MUST,
        "Pushing manifests",
        "A manifest PUT answers with Docker-Content-Digest equal to the digest of the pushed bytes"
        " (the digest in the URL when pushing by digest).",
        "pushing-manifests",
    ),
    _r(
        "manifest-digest-mismatch",
        MUST,
        "Pushing manifests",
        "A manifest pushed by a digest that is not the digest of its body is refused with 400.",
        "pushing-manifests",
    ),
    _r(
        "manifest-blob-unknown",
        MUST,
        "Pushing manifests",
        "A manifest naming blobs the repository lacks is refused with 400 (MANIFEST_BLOB_UNKNOWN) "
        "or accepted; it never causes a 5xx.",
        "pushing-manifests",
        "Registries may accept sparse manifests; refusing must use a 4xx.",
    ),
    _r(
        "manifest-large",
        SHOULD,
        "Pushing manifests",
        "Manifests of 4 MB are accepted; a manifest over the registry's limit is refused with 413.",
        "pushing-manifests",
    ),
    _r(
        "subject-missing-accepted",
        MUST,
        "Pushing manifests with subject",
        "A manifest whose subject is not (yet) in the repository is accepted.",
        "pushing-manifests-with-subject",
    ),
    _r(
        "subject-header",
        MUST,
        "Pushing manifests with subject",
        "A PUT of a manifest with a subject answers with OCI-Subject naming the subject digest "
        "when the registry processed it.",
        "pushing-manifests-with-subject",
        "Checked only when the registry offers the referrers API; without it the client must use "
        "the tag schema.",
    ),
    _r(
        "upload-chunk-order",
        MUST,
        "Pushing a blob in chunks",
        "A chunk that does not start where the session ends is refused with 416.",
        "pushing-a-blob-in-chunks",
    ),
    _r(
        "upload-chunk-last-in-put",
        MAY,
        "Pushing a blob in chunks",
        "The closing PUT may carry the last chunk; the assembled blob has the given digest.",
        "pushing-a-blob-in-chunks",
    ),
    _r(
        "upload-streamed",
        MAY,
        "Pushing a blob in chunks",
        "A PATCH without Content-Range streams the whole blob before the closing PUT.",
        "pushing-a-blob-in-chunks",
        "Not defined by v1.1.1 but used by clients (opencontainers/distribution-spec#303).",
    ),
    _r(
        "upload-empty-blob",
        MUST,
        "Pushing blobs",
        "A zero-length blob and the two-byte empty JSON blob can be pushed and pulled.",
        "pushing-blobs",
    ),
    _r(
        "mount-missing-not-created",
        MUST,
        "Mounting a blob from another repository",
        "Mounting a blob that does not exist never answers 201.",
        "mounting-a-blob-from-another-repository",
    ),
    _r(
        "mount-anonymous",
        MAY,
        "Mounting a blob from another repository",
        "A mount without 'from' may find the blob by digest alone (201), or open a session (202).",
        "mounting-a-blob-from-another-repository",
    ),
    _r(
        "tags-lexical",
        MUST,
        "Listing tags",
        "Tags are listed in lexical order.",
        "listing-tags",
        "ASCII (byte) order is accepted, as on the spec's main branch.",
    ),
    _r(
        "tags-n",
        MUST,
        "Listing tags",
        "With n, at most n tags are returned, and fewer only when no more remain or a Link is "
        "given.",
        "listing-tags",
    ),
    _r(
        "tags-n-zero",
        MUST,
        "Listing tags",
        "With n=0 the list is empty and no Link is returned.",
        "listing-tags",
    ),
    _r(
        "tags-last",
        MUST,
        "Listing tags",
        "With last, the list continues strictly after that tag.",
        "listing-tags",
    ),
    _r(
        "tags-link",
        MUST,
        "Listing tags",
        'When more tags remain, a Link header with rel="next" leads to them.',
        "listing-tags",
    ),
    _r(
        "referrers-descriptors",
        MUST,
        "Listing referrers",
        "Each referrer descriptor carries its artifactType (the config media type for images "
        "without one) and the referrer's annotations.",
        "listing-referrers",
    ),
    _r(
        "referrers-invalid-digest",
        MUST,
        "Listing referrers",
        "A referrers request with a malformed digest is refused with 400.",
        "listing-referrers",
    ),
    _r(
        "referrers-tag-schema",
        MUST,
        "Unavailable Referrers API",
        "A registry stores and serves an image index under the referrers fallback tag "
        "<alg>-<encoded>, so clients can use the tag schema.",
        "referrers-tag-schema",
    ),
    _r(
        "referrers-fallback-included",
        MUST,
        "Enabling the Referrers API",
        "Referrers listed in the fallback-tag index that carry a valid subject appear in the "
        "referrers API answer.",
        "enabling-the-referrers-api",
    ),
    _r(
        "delete-manifest-removes-tags",
        SHOULD,
        "Deleting manifests",
        "After a manifest is deleted by digest, tags that pointed at it are gone from the tag "
        "list.",
        "deleting-manifests",
    ),
    _r(
        "auth-challenge",
        MUST,
        "Authentication",
        "A 401 answer carries a WWW-Authenticate challenge (Basic, or Bearer with realm) a client "
        "can satisfy.",
        "error-codes",
        "RFC 9110 §11.6.1 requires the challenge on every 401.",
    ),
]

CATALOGUE = Catalogue(
    suite="distribution",
    spec_name="OCI Distribution Specification",
    spec_version="1.1.1",
    base_url="https://github.com/opencontainers/distribution-spec/blob/v1.1.1",
    requirements=tuple(_ENDPOINTS + _ERROR_CODES + _BEHAVIOUR),
)
