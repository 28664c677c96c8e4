"""The SMI catalogue: SMI v0.6.0 (split v1alpha4, access v1alpha3, specs v1alpha4,
metrics v1alpha1).

Ids are those of the project's SMI notes (``SPLIT-003``); ids in lower case are ours, for
behaviour the notes fold into one row. Where the spec text, the CRDs (smi-sdk-go ``crds/``) and
the SDK disagree, the MUST row follows one reading (stated in ``note``) and the other readings
are SHOULD or MAY rows, so a mesh taking another reading gets a warning, not a failure.
"""

from conformance.core.catalogue import Catalogue, Level, Requirement

SPLIT = "apis/traffic-split/v1alpha4/traffic-split.md"
ACCESS = "apis/traffic-access/v1alpha3/traffic-access.md"
SPECS = "apis/traffic-specs/v1alpha4/traffic-specs.md"
METRICS = "apis/traffic-metrics/v1alpha1/traffic-metrics.md"

MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY

_REQUIREMENTS = (
    # -- admission (schemas) ---------------------------------------------------------------
    Requirement(
        "SPLIT-001",
        MUST,
        "TrafficSplit: Specification",
        "A TrafficSplit needs spec.service and spec.backends, each backend a service and a "
        "weight; an object missing one of them is refused and a complete one is stored as sent.",
        f"{SPLIT}#specification",
    ),
    Requirement(
        "SPLIT-002",
        MUST,
        "TrafficSplit: Specification",
        "Entries of spec.matches name a kind and a name, and the only kind allowed is "
        "HTTPRouteGroup.",
        f"{SPLIT}#specification",
    ),
    Requirement(
        "SPLIT-009",
        MAY,
        "TrafficSplit: Specification",
        "Weights are whole numbers of zero or more: a fractional or negative weight is refused.",
        f"{SPLIT}#specification",
        note="The CRD types weight as a number, the text speaks of whole numbers and the SDK "
        "uses an int; we read the text and the SDK (servicemeshinterface/smi-spec#236). A mesh "
        "accepting 1.5 or -1 gets a warning.",
    ),
    Requirement(
        "ACC-001",
        MUST,
        "TrafficTarget: Specification",
        "A TrafficTarget needs a destination (kind, name), rules (kind, name) and sources "
        "(kind, name); a rule kind other than HTTPRouteGroup, TCPRoute or UDPRoute and "
        "rule matches that are not a list of strings are refused.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-002",
        MAY,
        "TrafficTarget: Specification",
        "A TrafficTarget without any source or without any rule is refused.",
        f"{ACCESS}#specification",
        note="The text calls such a target invalid; the CRD sets no minimum. We refuse it; a "
        "mesh storing it gets a warning.",
    ),
    Requirement(
        "SPEC-001",
        MUST,
        "Traffic Specs: HTTPRouteGroup",
        "Each HTTPRouteGroup match needs a name; methods come from the HTTP method list or '*'.",
        f"{SPECS}#httproutegroup",
        note="Headers are sent as the CRD and SDK shape them: a list of single-entry maps. The "
        "text shows a single map, which a structural CRD would refuse (smi-spec#233, #237).",
    ),
    Requirement(
        "spec-tcproute-ports-required",
        SHOULD,
        "Traffic Specs: TCPRoute",
        "A TCPRoute or UDPRoute without matches.ports is refused; ports must be numbers from 1 "
        "to 65535.",
        f"{SPECS}#tcproute",
        note="The CRD requires the key while the text calls it optional; we follow the CRD.",
    ),
    Requirement(
        "api-status-errors",
        MUST,
        "Kubernetes API conventions",
        "A refused object gets a Kubernetes Status body (kind Status, code 422 reason Invalid "
        "for schema errors, 400 for a body that is not JSON) and nothing is stored.",
        "https://kubernetes.io/docs/reference/using-api/api-concepts/",
    ),
    # -- traffic split ---------------------------------------------------------------------
    Requirement(
        "SPLIT-003",
        MUST,
        "TrafficSplit: Specification",
        "Requests from a meshed client to the root service are shared among the backends in "
        "proportion to weight over the sum of weights, and none go to the root's own pods.",
        f"{SPLIT}#specification",
    ),
    Requirement(
        "SPLIT-004",
        MUST,
        "TrafficSplit: Workflow",
        "Weights are relative: any sum is accepted (not only 100) and {1000, 500} splits 2:1.",
        f"{SPLIT}#workflow",
    ),
    Requirement(
        "SPLIT-005",
        MUST,
        "TrafficSplit: Workflow",
        "A backend with weight 0 receives no request.",
        f"{SPLIT}#workflow",
    ),
    Requirement(
        "SPLIT-006",
        SHOULD,
        "TrafficSplit: Workflow",
        "A split with a single backend of weight 1 sends every request to that backend.",
        f"{SPLIT}#workflow",
    ),
    Requirement(
        "SPLIT-007",
        SHOULD,
        "TrafficSplit: Workflow",
        "A split naming a backend service that does not exist yet is accepted, traffic goes to "
        "the backends that exist, and the new backend receives its share once created.",
        f"{SPLIT}#workflow",
        note="A missing backend takes no part in the draw; its weight is left out of the sum.",
    ),
    Requirement(
        "SPLIT-008",
        MAY,
        "TrafficSplit: Workflow",
        "A split whose weights are all 0 is either refused or delivers no request to any of its "
        "backends.",
        f"{SPLIT}#workflow",
        note="Undefined by the spec (openservicemesh/osm#2121). The reference accepts it and "
        "answers 503 for the root service: weight 0 means no traffic.",
    ),
    Requirement(
        "SPLIT-010",
        MUST,
        "TrafficSplit: Ports",
        "A backend service without the port the client called is left out of the split.",
        f"{SPLIT}#ports",
    ),
    Requirement(
        "SPLIT-013",
        MUST,
        "TrafficSplit: A/B testing",
        "With spec.matches, matching requests are split by weight and the others go to the "
        "root service's own pods.",
        f"{SPLIT}#ab-testing",
    ),
    Requirement(
        "SPLIT-014",
        MUST,
        "TrafficSplit: A/B testing",
        "Several route groups in spec.matches are alternatives: a request matching any of them "
        "is split.",
        f"{SPLIT}#ab-testing",
    ),
    Requirement(
        "split-root-passthrough",
        SHOULD,
        "TrafficSplit: Specification",
        "Without a TrafficSplit, requests to the root service reach the pods it selects.",
        f"{SPLIT}#specification",
        note="The spec example creates the root service; some meshes require it (traefik/mesh"
        "#760). The suite always creates it.",
    ),
    Requirement(
        "SPLIT-018",
        SHOULD,
        "TrafficSplit: Workflow",
        "A change of weights takes effect (convergence time recorded).",
        f"{SPLIT}#workflow",
    ),
    # -- traffic access --------------------------------------------------------------------
    Requirement(
        "ACC-003",
        MUST,
        "TrafficTarget: Specification",
        "With access control on, a meshed call to a destination that no TrafficTarget names is "
        "not delivered.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-004",
        MUST,
        "TrafficTarget: Specification",
        "A source service account listed in a TrafficTarget reaches pods running as the "
        "destination service account.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-005",
        MUST,
        "TrafficTarget: Specification",
        "A service account that no source entry lists is denied while a listed one is allowed.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-006",
        MUST,
        "TrafficTarget: Specification",
        "A listed source is denied for requests outside the routes the rules allow.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-007",
        MUST,
        "TrafficTarget: Specification",
        "A rule without matches allows every match of the referenced HTTPRouteGroup.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-008",
        MUST,
        "TrafficTarget: Specification",
        "A rule listing matches allows only those matches of the HTTPRouteGroup.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-009",
        MUST,
        "TrafficTarget: Specification",
        "Several TrafficTargets for one destination add up.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-010",
        MUST,
        "TrafficTarget: Specification",
        "Deleting the TrafficTarget that allowed a call denies that call again.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-011",
        MUST,
        "TrafficTarget: Specification",
        "Access is decided on the caller's authenticated identity at the destination: headers "
        "claiming another identity change nothing.",
        f"{ACCESS}#specification",
    ),
    Requirement(
        "ACC-012",
        MAY,
        "TrafficTarget: Specification",
        "A TrafficTarget with a TCPRoute and an HTTPRouteGroup allows only requests that satisfy "
        "both (port and route).",
        f"{ACCESS}#specification",
        note="The text leaves open whether rule kinds combine as intersection or union; its L7 "
        "example suggests intersection, which we take.",
    ),
    Requirement(
        "ACC-013",
        MUST,
        "TrafficTarget: Specification",
        "A source in another namespace, named with its namespace, is allowed.",
        f"{ACCESS}#specification",
    ),
    # -- traffic specs ---------------------------------------------------------------------
    Requirement(
        "SPEC-002",
        MUST,
        "Traffic Specs: HTTPRouteGroup",
        "pathRegex is anchored at the start of the path: '/api' matches '/api' and not '/v1/api'.",
        f"{SPECS}#httproutegroup",
    ),
    Requirement(
        "spec-pathregex-full-match",
        SHOULD,
        "Traffic Specs: HTTPRouteGroup",
        "pathRegex must match the whole path (query excluded): '/api' does not match '/api/users'.",
        f"{SPECS}#httproutegroup",
        note="Our reading, shared with Envoy-based meshes: full match. The SMI text can be read "
        "as a prefix anchor ('/api' matching '/apix'); a mesh taking that reading gets a "
        "warning.",
    ),
    Requirement(
        "SPEC-003",
        MUST,
        "Traffic Specs: HTTPRouteGroup",
        "methods ['*'] matches every method; a list of methods matches only those.",
        f"{SPECS}#httproutegroup",
    ),
    Requirement(
        "SPEC-004",
        MUST,
        "Traffic Specs: HTTPRouteGroup",
        "Header values are regular expressions; all headers of one match must match, separate "
        "matches are alternatives.",
        f"{SPECS}#httproutegroup",
        note="Header names compare case-insensitively; values must match whole.",
    ),
    Requirement(
        "SPEC-005",
        MUST,
        "Traffic Specs: HTTPRouteGroup",
        "A match with only headers applies to any path and method.",
        f"{SPECS}#httproutegroup",
    ),
    Requirement(
        "SPEC-008",
        MUST,
        "Traffic Specs: TCPRoute",
        "A TCPRoute with ports allows TCP traffic to those ports only.",
        f"{SPECS}#tcproute",
    ),
    Requirement(
        "SPEC-009",
        MUST,
        "Traffic Specs: TCPRoute",
        "A TCPRoute with an empty port list is accepted and allows every port.",
        f"{SPECS}#tcproute",
    ),
    # -- traffic metrics -------------------------------------------------------------------
    Requirement(
        "MET-001",
        MUST,
        "Traffic Metrics: Specification",
        "The metrics API group lists TrafficMetrics resources with verbs get and list; "
        "namespaces are cluster-scoped.",
        f"{METRICS}#specification",
    ),
    Requirement(
        "MET-002",
        MUST,
        "Traffic Metrics: Specification",
        "A resource's metrics are a TrafficMetrics naming that resource, with edge direction "
        "'from' and no edge resource.",
        f"{METRICS}#specification",
    ),
    Requirement(
        "MET-003",
        MUST,
        "Traffic Metrics: Specification",
        "timestamp is an RFC 3339 time close to now and window is a duration.",
        f"{METRICS}#specification",
    ),
    Requirement(
        "MET-004",
        MUST,
        "Traffic Metrics: Specification",
        "The metrics p50, p90 and p99 response latency (with a unit), success_count and "
        "failure_count are present.",
        f"{METRICS}#specification",
    ),
    Requirement(
        "MET-005",
        MUST,
        "Traffic Metrics: Specification",
        "Values are Kubernetes quantities; counts are not negative; p50 <= p90 <= p99.",
        f"{METRICS}#specification",
        note="Latency unit 'ms' (SDK, smi-metrics) or 'seconds' (spec example); both accepted "
        "and normalised to seconds.",
    ),
    Requirement(
        "MET-006",
        MUST,
        "Traffic Metrics: Specification",
        "Success and failure counts, and latency quantiles, agree with the traffic sent.",
        f"{METRICS}#specification",
        note="A failure is a 5xx response (smi-metrics' classification); counts must be within "
        "5% of what was sent; p50 must be at least the delay the backend added.",
    ),
    Requirement(
        "MET-007",
        MUST,
        "Traffic Metrics: Specification",
        "Listing a kind in a namespace gives a TrafficMetricsList with one item per resource; "
        "a label selector filters the items.",
        f"{METRICS}#specification",
    ),
    Requirement(
        "MET-008",
        MUST,
        "Traffic Metrics: Edges",
        "A resource's edges have one item per peer that exchanged traffic with it, with "
        "direction from or to and the peer as edge resource.",
        f"{METRICS}#edges",
    ),
    Requirement(
        "MET-011",
        MUST,
        "Traffic Metrics: Specification",
        "Deployment and namespace metrics add up the metrics of their pods.",
        f"{METRICS}#specification",
    ),
    Requirement(
        "MET-012",
        MUST,
        "Traffic Metrics: Specification",
        "An unknown resource, or a kind the API does not serve, answers 404.",
        "https://github.com/servicemeshinterface/smi-spec/pull/135",
        note="From the unmerged OpenAPI proposal for the metrics API.",
    ),
)

CATALOGUE = Catalogue(
    suite="smi",
    spec_name="Service Mesh Interface",
    spec_version="v0.6.0",
    base_url="https://github.com/servicemeshinterface/smi-spec/blob/v0.6.0",
    requirements=_REQUIREMENTS,
)
