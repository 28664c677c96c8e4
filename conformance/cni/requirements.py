"""The CNI requirement catalogue (spec 1.1.0, which 1.0.0 plugins are checked against too).

Ids are short and stable; the spec has none of its own. Where the spec text and what the
reference library (``pkg/skel``) and every known plugin do disagree, the requirement is a
SHOULD with a note, so a miss is a warning rather than a failure.
"""

from conformance.core.catalogue import Catalogue, Level, Requirement

MUST, SHOULD = Level.MUST, Level.SHOULD
_S = "SPEC.md#"
_ADD = _S + "add-add-container-to-network-or-apply-modifications"
_DEL = _S + "del-remove-container-from-network-or-un-apply-modifications"
_CHECK = _S + "check-check-containers-networking-is-as-expected"
_STATUS = _S + "status-check-plugin-status"
_VERSION = _S + "version-probe-plugin-version-support"
_GC = _S + "gc-clean-up-any-stale-resources"
_PARAMS = _S + "parameters"
_ERRORS = _S + "error"
_CODES = _S + "error-codes"
_RESULT = _S + "success"
_CONFIG = _S + "configuration-format"
_DELEGATION = _S + "section-4-plugin-delegation"
_LIST = _S + "section-3-execution-of-network-configurations"


def _r(
    rid: str, level: Level, section: str, anchor: str, summary: str, note: str = ""
) -> Requirement:
    return Requirement(rid, level, section, summary, anchor, note)


REQUIREMENTS = (
    # -- VERSION ---------------------------------------------------------------------------
    _r(
        "version-reply",
        MUST,
        "2 VERSION",
        _VERSION,
        "VERSION exits 0 and prints an object with cniVersion and a supportedVersions list.",
    ),
    _r(
        "version-no-config",
        MUST,
        "2 VERSION",
        _VERSION,
        "VERSION answers with only CNI_COMMAND set, whatever stdin holds.",
    ),
    _r(
        "version-echo",
        SHOULD,
        "2 VERSION",
        _VERSION,
        "The VERSION reply carries the cniVersion the caller sent.",
        note="The spec asks for the input's version; pkg/skel answers its own latest version, "
        "so a miss is a warning.",
    ),
    _r(
        "version-unsupported",
        MUST,
        "2 Error codes",
        _CODES,
        "A configuration in a version the plugin does not list is refused with code 1.",
    ),
    # -- configuration ---------------------------------------------------------------------
    _r(
        "config-version-required",
        SHOULD,
        "1 Configuration format",
        _CONFIG,
        "A configuration without cniVersion is refused.",
        note="pkg/skel reads a missing version as 0.1.0 and answers with a legacy result.",
    ),
    _r(
        "config-name-required",
        MUST,
        "1 Configuration format",
        _CONFIG,
        "A configuration without a network name is refused.",
    ),
    _r(
        "config-name-valid",
        MUST,
        "1 Configuration format",
        _CONFIG,
        "A network name with characters outside [A-Za-z0-9_.-] is refused.",
    ),
    _r(
        "config-decode",
        MUST,
        "2 Error codes",
        _CODES,
        "Malformed JSON on stdin is refused with an error object.",
    ),
    # -- environment -----------------------------------------------------------------------
    _r(
        "env-command-unknown",
        MUST,
        "2 Parameters",
        _PARAMS,
        "An unknown or wrongly cased CNI_COMMAND is refused.",
    ),
    _r(
        "env-required",
        MUST,
        "2 Parameters",
        _PARAMS,
        "ADD without CNI_CONTAINERID, CNI_NETNS or CNI_IFNAME is refused.",
    ),
    _r(
        "env-ifname-invalid",
        MUST,
        "2 Parameters",
        _PARAMS,
        "An interface name the kernel cannot use is refused before anything is created.",
    ),
    _r(
        "env-containerid-invalid",
        SHOULD,
        "2 Parameters",
        _PARAMS,
        "A container id with characters outside [A-Za-z0-9_.-] is refused.",
        note="Validating the id is the runtime's duty; plugins built on pkg/skel refuse it.",
    ),
    _r(
        "env-args-malformed",
        SHOULD,
        "2 Parameters",
        _PARAMS,
        "CNI_ARGS that are not KEY=VALUE pairs separated by ';' are refused.",
        note="CNI_ARGS is deprecated; the spec gives its syntax but no duty to reject it.",
    ),
    # -- output and errors -----------------------------------------------------------------
    _r(
        "error-object",
        MUST,
        "5 Error",
        _ERRORS,
        "A failure exits non-zero and prints an error object with an integer code and a msg.",
    ),
    _r(
        "error-on-stdout",
        SHOULD,
        "5 Error",
        _ERRORS,
        "The error object is printed on stdout, where runtimes read it.",
        note="Section 2 mentions stderr; libcni and every plugin use stdout, so stderr-only "
        "errors are a warning.",
    ),
    _r(
        "error-cniversion",
        SHOULD,
        "5 Error",
        _ERRORS,
        "The error object carries cniVersion.",
        note="pkg/skel leaves cniVersion out of its errors.",
    ),
    _r(
        "error-codes",
        SHOULD,
        "2 Error codes",
        _CODES,
        "Well-known failures use their reserved codes: 4 for bad environment, 6 for "
        "undecodable input, 7 for an invalid configuration.",
        note="The spec reserves the codes; plugins differ on which code a failure gets.",
    ),
    _r(
        "result-version",
        MUST,
        "5 Success",
        _RESULT,
        "A success result carries the cniVersion of the request.",
    ),
    _r(
        "stdout-single-document",
        MUST,
        "5 Result types",
        _RESULT,
        "Stdout holds exactly one JSON document and nothing else (containernetworking/cni#571).",
    ),
    # -- ADD -------------------------------------------------------------------------------
    _r(
        "add-result-format",
        MUST,
        "5 Success",
        _RESULT,
        "The ADD result has the fields and types of its version; ips[].interface indexes "
        "interfaces.",
    ),
    _r(
        "add-interface-state",
        MUST,
        "2 ADD",
        _ADD,
        "CNI_IFNAME exists in CNI_NETNS with the MAC, addresses and sandbox the result reports.",
    ),
    _r(
        "add-routes-state",
        SHOULD,
        "5 Success",
        _RESULT,
        "Routes the result reports are installed in the container namespace.",
        note="The spec describes routes as configured ones; it does not say who installs them.",
    ),
    _r(
        "add-mtu-state",
        MUST,
        "5 Success",
        _RESULT,
        "An interface mtu in a 1.1.0 result matches the MTU the kernel shows.",
    ),
    _r(
        "add-dns-result",
        SHOULD,
        "5 Success",
        _RESULT,
        "DNS settings given in the configuration are reported in the result.",
        note="Common practice (bridge, ptp, macvlan copy dns); not a spec duty.",
    ),
    _r(
        "add-interface-exists",
        MUST,
        "2 ADD",
        _ADD,
        "ADD fails when CNI_IFNAME already exists in the container and leaves it untouched.",
        note="containernetworking/cni#901: the spec also says 'create or adjust'; the suite "
        "fails only a success that leaves the existing interface in place.",
    ),
    _r(
        "add-failure-releases",
        SHOULD,
        "4 Plugin delegation",
        _DELEGATION,
        "An ADD that fails after IPAM succeeded releases the address before failing.",
    ),
    _r(
        "add-concurrent",
        MUST,
        "3 Execution of network configurations",
        _LIST,
        "Concurrent ADDs for different containers all succeed with distinct addresses.",
    ),
    _r(
        "add-prevresult",
        MUST,
        "2 ADD",
        _ADD,
        "A plugin given prevResult outputs it with its own changes; nothing is dropped.",
    ),
    # -- DEL -------------------------------------------------------------------------------
    _r(
        "del-cleans",
        SHOULD,
        "2 DEL",
        _DEL,
        "DEL removes the interface, releases the address and leaves no host links but the bridge.",
    ),
    _r("del-no-prevresult", MUST, "2 DEL", _DEL, "DEL succeeds without prevResult."),
    _r(
        "del-repeated",
        MUST,
        "2 DEL",
        _DEL,
        "A repeated DEL succeeds although its resources are gone.",
    ),
    _r("del-no-netns", MUST, "2 DEL", _DEL, "DEL succeeds without CNI_NETNS."),
    _r(
        "del-netns-gone",
        SHOULD,
        "2 DEL",
        _DEL,
        "DEL after the namespace was removed succeeds and still releases the address.",
    ),
    _r(
        "del-after-failed-add",
        SHOULD,
        "3 Execution of network configurations",
        _LIST,
        "DEL after a failed ADD succeeds and leaves nothing of that ADD behind.",
    ),
    # -- CHECK -----------------------------------------------------------------------------
    _r("check-ok", MUST, "2 CHECK", _CHECK, "CHECK right after ADD exits 0 and prints nothing."),
    _r("check-prevresult-required", MUST, "2 CHECK", _CHECK, "CHECK without prevResult fails."),
    _r(
        "check-tampered",
        MUST,
        "2 CHECK",
        _CHECK,
        "CHECK fails when an interface or address listed in prevResult is missing.",
    ),
    _r(
        "check-ipam",
        SHOULD,
        "4 Plugin delegation",
        _DELEGATION,
        "CHECK fails when the IPAM reservation behind the attachment is gone.",
    ),
    _r(
        "check-version",
        MUST,
        "2 CHECK",
        _CHECK,
        "CHECK on a configuration older than 0.4.0 is refused.",
    ),
    _r(
        "chain-check",
        MUST,
        "2 CHECK",
        _CHECK,
        "Every plugin of a list passes CHECK with the list's final result.",
    ),
    # -- STATUS and GC (1.1.0) -------------------------------------------------------------
    _r(
        "status-ready",
        MUST,
        "2 STATUS",
        _STATUS,
        "STATUS of a ready plugin exits 0 and prints nothing; only CNI_COMMAND and CNI_PATH "
        "are set.",
    ),
    _r(
        "status-unavailable",
        MUST,
        "2 STATUS",
        _STATUS,
        "STATUS of a plugin that cannot serve ADD fails with code 50 or 51.",
    ),
    _r(
        "gc-ok",
        MUST,
        "2 GC",
        _GC,
        "GC with every attachment listed exits 0, prints nothing and keeps them working.",
    ),
    _r(
        "gc-stale",
        SHOULD,
        "2 GC",
        _GC,
        "GC releases the resources of attachments missing from cni.dev/valid-attachments.",
    ),
    # -- IPAM ------------------------------------------------------------------------------
    _r(
        "ipam-result",
        MUST,
        "5 IPAM result",
        _S + "ipam-success",
        "An IPAM ADD result lists ips (without interface indexes) and no interfaces.",
    ),
    _r(
        "ipam-release",
        SHOULD,
        "2 DEL",
        _DEL,
        "IPAM DEL releases the address so that it can be handed out again.",
    ),
)

CATALOGUE = Catalogue(
    suite="cni",
    spec_name="Container Network Interface",
    spec_version="1.1.0",
    base_url="https://github.com/containernetworking/cni/blob/spec-v1.1.0",
    requirements=REQUIREMENTS,
)
