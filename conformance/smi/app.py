"""The suite's test application: one standard-library-only program, run inside the mesh.

``serve`` is a versioned backend: every HTTP request gets a JSON reply naming the backend
(service, version, pod) and echoing the request (method, path, headers, body); ``/status/NNN``
answers with that status. Each TCP port echoes one line back as JSON.

``http`` and ``tcp`` are the traffic client a cluster target runs inside its client pod: they
read a JSON list of requests and print one JSON result per request. It must stay standard
library only, because it runs as ``python -c`` in any Python image.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time


def _port(number: int) -> int:
    # The reference mesh runs pods as local processes and hands each container port a free
    # loopback port; in a cluster the container port is used as is.
    return int(os.environ.get(f"SMI_PORT_{number}", number))


def _bind() -> str:
    # All interfaces inside a pod; the reference mesh asks for loopback only.
    return os.environ.get("SMI_BIND_ADDRESS", "0.0.0.0")


def _identity(args: argparse.Namespace, port: int) -> dict[str, object]:
    return {
        "service": args.name,
        "version": args.version,
        "pod": os.environ.get("POD_NAME", ""),
        "namespace": os.environ.get("POD_NAMESPACE", ""),
        "port": port,
    }


def _http_handler(args: argparse.Namespace, port: int) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            code = 200
            parts = self.path.split("?", 1)[0].split("/")
            if len(parts) == 3 and parts[1] == "status" and parts[2].isdigit():
                code = int(parts[2])
            if len(parts) == 3 and parts[1] == "delay" and parts[2].isdigit():
                time.sleep(int(parts[2]) / 1000)
            reply = dict(_identity(args, port))
            reply.update(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body.decode("utf-8", "replace"),
            )
            data = json.dumps(reply).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        # http.server dispatches on these exact names.
        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815
        do_PATCH = do_HEAD = do_OPTIONS = _answer  # noqa: N815

        def log_message(self, format: str, *fmt_args: object) -> None:
            pass

    return Handler


def _tcp_handler(args: argparse.Namespace, port: int) -> type:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline(65536)
            reply = dict(_identity(args, port), echo=line.decode("utf-8", "replace").strip())
            self.wfile.write(json.dumps(reply).encode() + b"\n")

    return Handler


class _Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(args: argparse.Namespace) -> int:
    """Run the backend until killed."""
    servers: list[socketserver.BaseServer] = []
    for number in args.http:
        port = _port(number)
        servers.append(
            http.server.ThreadingHTTPServer((_bind(), port), _http_handler(args, number))
        )
    for number in args.tcp:
        servers.append(_Threaded((_bind(), _port(number)), _tcp_handler(args, number)))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


def send_http(args: argparse.Namespace) -> int:
    """Send the JSON list of requests over one keep-alive connection; print JSON results."""
    # Identical consecutive requests arrive run-length encoded ("repeat": n).
    specs = [s for item in json.loads(args.requests) for s in [item] * int(item.get("repeat", 1))]
    results = []
    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
    for spec in specs:
        started = time.perf_counter()
        try:
            conn.request(
                spec.get("method", "GET"),
                spec.get("path", "/"),
                body=spec.get("body"),
                headers=spec.get("headers") or {},
            )
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            results.append({"status": response.status, "body": body})
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
            results.append({"status": None, "body": "", "error": str(err)})
        results[-1]["ms"] = (time.perf_counter() - started) * 1000
    print(json.dumps(results))
    return 0


def send_tcp(args: argparse.Namespace) -> int:
    """Send one line on a TCP connection; print the reply (or the error) as JSON."""
    result: dict[str, object] = {"connected": False, "reply": ""}
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
            result["connected"] = True
            sock.sendall(args.payload.encode() + b"\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
                if data.endswith(b"\n"):
                    break
            result["reply"] = b"".join(chunks).decode("utf-8", "replace")
    except OSError as err:
        result["error"] = str(err)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of all three modes."""
    parser = argparse.ArgumentParser(prog="smi-test-app")
    sub = parser.add_subparsers(dest="mode", required=True)
    srv = sub.add_parser("serve")
    srv.add_argument("--name", required=True)
    srv.add_argument("--version", required=True)
    srv.add_argument("--http", type=int, action="append", default=[])
    srv.add_argument("--tcp", type=int, action="append", default=[])
    for mode in ("http", "tcp"):
        cli = sub.add_parser(mode)
        cli.add_argument("--host", required=True)
        cli.add_argument("--port", type=int, required=True)
        cli.add_argument("--timeout", type=float, default=10.0)
        if mode == "http":
            cli.add_argument("--requests", required=True)
        else:
            cli.add_argument("--payload", default="ping")
    args = parser.parse_args(argv)
    return {"serve": serve, "http": send_http, "tcp": send_tcp}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
