"""A minimal but real service mesh implementing SMI v0.6.0, the reference for the smi suite.

Start it with ``python -m reference_impl.smi --listen 127.0.0.1:PORT --state-dir DIR``. It
serves a Kubernetes-style API for the SMI kinds and for the workloads it runs (pods as local
processes), proxies their traffic through mutual-TLS sidecars on 127.0.0.1, enforces
TrafficTargets on the verified SPIFFE identity, splits by TrafficSplit weights and serves
TrafficMetrics.
"""
