"""Run inside ``unshare --user --map-root-user --mount --net``: a private network namespace
(loopback only) and mount namespace in which this process is root, so it can point the
system resolver at its own DNS server without touching the host.

Steps: bring ``lo`` up; bind-mount a resolv.conf (``nameserver 127.0.0.1``) and an
nsswitch.conf (``hosts: files dns``) over the real ones; serve DNS on 127.0.0.1:53 (UDP
and TCP), recording every question and answering NXDOMAIN; check the wiring with two
controls (a clearnet name and an onion name looked up by this unguarded process must both
reach the server); then start the sandbox and crawl onion sources through its SOCKS proxy
exactly as the product does (crawl child processes, the browser for the SPA market).
Prints one JSON object on stdout.

Usage: python _dns_netns_child.py WORKDIR SOURCE [SOURCE...]
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

QUERIES: list[str] = []
_lock = threading.Lock()


def _qname(msg: bytes) -> str:
    """The first question's name; total on garbage (bounded loop, bounds-checked)."""
    labels, i = [], 12
    for _ in range(128):
        if i >= len(msg):
            break
        n = msg[i]
        if n == 0 or n & 0xC0:
            break
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return ".".join(labels).lower()


def _nxdomain(msg: bytes) -> bytes:
    if len(msg) < 12:
        return b""
    flags = 0x8000 | (msg[2] & 0x79) << 8 | 0x0080 | 3  # QR, opcode+RD copied, RA, rcode NXDOMAIN
    qd = struct.unpack(">H", msg[4:6])[0]
    return msg[:2] + struct.pack(">HHHHH", flags, qd, 0, 0, 0) + msg[12:]


def _record(msg: bytes) -> None:
    with _lock:
        QUERIES.append(_qname(msg))


def serve_udp(sock: socket.socket) -> None:
    while True:
        msg, addr = sock.recvfrom(4096)
        _record(msg)
        sock.sendto(_nxdomain(msg), addr)


def serve_tcp(sock: socket.socket) -> None:
    while True:
        conn, _ = sock.accept()
        with conn:
            try:
                head = conn.recv(2)
                if len(head) < 2:
                    continue
                msg = conn.recv(struct.unpack(">H", head)[0])
                _record(msg)
                reply = _nxdomain(msg)
                conn.sendall(struct.pack(">H", len(reply)) + reply)
            except OSError:
                pass


def setup(work: Path) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    (work / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    (work / "nsswitch.conf").write_text("hosts: files dns\n")
    for name in ("resolv.conf", "nsswitch.conf"):
        subprocess.run(["mount", "--bind", str(work / name), f"/etc/{name}"], check=True)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 53))
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", 53))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()


def control(name: str) -> bool:
    """Look ``name`` up with the plain system resolver; True if our server saw the question."""
    before = len(QUERIES)
    try:
        socket.getaddrinfo(name, 80)
    except socket.gaierror:
        pass
    with _lock:
        return name in QUERIES[before:]


def main() -> int:
    work, sources = Path(sys.argv[1]), sys.argv[2:]
    setup(work)
    out: dict[str, object] = {
        "control_clearnet": control("control.dns-probe.test"),
        # this harness does not install the product's guard: an onion lookup here is a leak
        # the server must see, or an absence later would prove nothing
        "control_onion": control("controlprobe2345abcdefghijklmnopqrstuvwxyzabcdefghijklmno.onion"),
    }
    from narcwatch.crawler.config import Config, TorConfig
    from narcwatch.crawler.paths import DataDir
    from narcwatch.crawler.runner import crawl_source
    from narcwatch.sandbox import SandboxServer, World

    before = len(QUERIES)
    crawls: dict[str, object] = {}
    with SandboxServer(World(seed=5, size=50)) as server:
        data = DataDir.at(work / "data")
        cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=server.socks_url, control=None))
        onion_hosts = set()
        for sid in sources:
            src = server.source(sid).as_source().model_copy(update={"concurrency": 4, "autothrottle": False,
                                                                     "delay": 0.0})
            onion_hosts |= {u.split("/")[2].split(":")[0] for u in src.start_urls}
            r = crawl_source(src, cfg, data, crawl_id=f"dns-{sid}", proxy_url=server.socks_url, timeout=240,
                             extra_settings={"CLOSESPIDER_PAGECOUNT": 25})
            crawls[sid] = {"pages": r.pages, "items": r.items, "returncode": r.returncode, "errors": r.errors,
                           "network": str(src.network.value)}
        out["socks_hosts"] = sorted({rec.host for rec in server.proxy_log if rec.ok})  # ATYP 3 only resolves
        out["direct_onion_connections"] = len(server.direct_onion_connections())
        out["onion_hosts"] = sorted(onion_hosts)
    with _lock:
        out["crawl_queries"] = QUERIES[before:]
        out["all_queries"] = list(QUERIES)
    out["crawls"] = crawls
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.environ.pop("NARCWATCH_NETGUARD_LOOPBACK", None)  # the namespace has no route out: a stronger wall
    sys.exit(main())
