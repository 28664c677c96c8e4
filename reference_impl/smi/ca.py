"""The mesh certificate authority: one workload certificate per service account.

Identities are SPIFFE-like URIs, ``spiffe://cluster.local/ns/<ns>/sa/<sa>``, carried as the
certificate's only URI subject alternative name. Certificates also name 127.0.0.1 so that the
client side can check the server it dialled on loopback. Keys are ECDSA P-256: fast handshakes
matter because every proxied connection is mutual TLS.
"""

from __future__ import annotations

import datetime
import logging
import ssl
import threading
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

TRUST_DOMAIN = "cluster.local"
VALIDITY = datetime.timedelta(days=2)


def spiffe_id(namespace: str, service_account: str) -> str:
    """The identity URI of a service account."""
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


def parse_spiffe_id(uri: str) -> tuple[str, str] | None:
    """``(namespace, service_account)`` from an identity URI, or ``None`` when malformed."""
    prefix = f"spiffe://{TRUST_DOMAIN}/ns/"
    if not uri.startswith(prefix):
        return None
    parts = uri[len(prefix) :].split("/")
    if len(parts) != 3 or parts[1] != "sa" or not parts[0] or not parts[2]:
        return None
    return parts[0], parts[2]


def peer_identity(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The URI SAN of the verified peer certificate, or ``None``."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    uris = [value for kind, value in cert.get("subjectAltName", ()) if kind == "URI"]
    return uris[0] if len(uris) == 1 else None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class MeshCA:
    """A self-signed root kept in ``directory``, issuing workload certificates on demand."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._servers: dict[str, ssl.SSLContext] = {}
        self._clients: dict[str, ssl.SSLContext] = {}
        self.ca_path = directory / "ca.crt"
        self._key, self._cert = self._load_or_create_root()

    def _load_or_create_root(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key_path = self.directory / "ca.key"
        if key_path.exists() and self.ca_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return key, x509.load_pem_x509_certificate(self.ca_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("smi reference mesh CA"))
            .issuer_name(_name("smi reference mesh CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        self.ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        log.info("created mesh CA in %s", self.directory)
        return key, cert

    def issue(self, namespace: str, service_account: str) -> Path:
        """Write (once) and return a PEM file with the key and certificate of an account."""
        path = self.directory / f"{namespace}.{service_account}.pem"
        if path.exists():
            return path
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        san = x509.SubjectAlternativeName(
            [
                x509.UniformResourceIdentifier(spiffe_id(namespace, service_account)),
                x509.IPAddress(IPv4Address("127.0.0.1")),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{service_account}.{namespace}"))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
        tmp.chmod(0o600)
        tmp.replace(path)
        log.debug("issued certificate for %s", spiffe_id(namespace, service_account))
        return path

    def server_context(self, namespace: str, service_account: str) -> ssl.SSLContext:
        """A server context that presents the account's certificate and demands a client one."""
        ident = spiffe_id(namespace, service_account)
        with self._lock:
            if ident not in self._servers:
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.ca_path)
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_cert_chain(self.issue(namespace, service_account))
                self._servers[ident] = ctx
            return self._servers[ident]

    def client_context(self, namespace: str, service_account: str) -> ssl.SSLContext:
        """A client context that presents the account's certificate and trusts the mesh CA."""
        ident = spiffe_id(namespace, service_account)
        with self._lock:
            if ident not in self._clients:
                ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_path)
                ctx.load_cert_chain(self.issue(namespace, service_account))
                self._clients[ident] = ctx
            return self._clients[ident]
