"""Reference CNI plugins (spec 1.0.0 and 1.1.0): ``bridge``, ``host-local`` and ``loopback``.

Each is an executable speaking the CNI execution protocol; ``python -m reference_impl.cni
<type>`` runs one, and the package installs them as ``cni-ref-bridge``,
``cni-ref-host-local`` and ``cni-ref-loopback``.
"""

PLUGINS = {
    "bridge": "reference_impl.cni.bridge",
    "host-local": "reference_impl.cni.hostlocal",
    "loopback": "reference_impl.cni.loopback",
}
