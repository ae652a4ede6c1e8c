"""The network guard on connection-less traffic: UDP ``sendto``/``sendmsg`` to an address and raw
sockets are refused before the system call, inside the real CLI entry point too.

192.0.2.1 is a documentation address (TEST-NET-1): nothing answers there, and the guard must
refuse it before a datagram is handed to the kernel.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from medsynth import netguard

OUTSIDE = ("192.0.2.1", 9)


def test_rule_covers_sendto_sendmsg_and_raw_sockets() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        netguard.check("socket.sendto", (udp, ("127.0.0.1", 9)))  # loopback passes
        netguard.check("socket.sendmsg", (udp, None))  # a connected socket's own peer
        with pytest.raises(netguard.NetworkBlocked, match=r"192\.0\.2\.1:9"):
            netguard.check("socket.sendto", (udp, OUTSIDE))
        with pytest.raises(netguard.NetworkBlocked, match=r"192\.0\.2\.1:9"):
            netguard.check("socket.sendmsg", (udp, OUTSIDE))
        with pytest.raises(netguard.NetworkBlocked, match="raw network socket"):
            netguard.check("socket.__new__", (udp, socket.AF_INET, socket.SOCK_RAW, 1))
        with pytest.raises(netguard.NetworkBlocked, match="raw network socket"):
            flags = socket.SOCK_RAW | socket.SOCK_CLOEXEC
            netguard.check("socket.__new__", (udp, socket.AF_INET6, flags, 58))
        with pytest.raises(netguard.NetworkBlocked, match=r"192\.0\.2\.1"):
            netguard.check("socket.getnameinfo", (OUTSIDE, 0))
        netguard.check("socket.__new__", (udp, socket.AF_INET, socket.SOCK_DGRAM, 0))
    finally:
        udp.close()


# A command added to the real CLI app and run through ``medsynth.cli.main``: the guard that main
# installs must stop each send, and loopback UDP must still work.
PROBE = r"""
import json, socket
from medsynth import cli

@cli.app.command("udp-probe")
def udp_probe() -> None:
    out = {}
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"ping", receiver.getsockname())
    out["loopback"] = receiver.recv(16).decode()
    for name, send in (
        ("sendto", lambda: sender.sendto(b"x", ("192.0.2.1", 9))),
        ("sendmsg", lambda: sender.sendmsg([b"x"], [], 0, ("192.0.2.1", 9))),
        ("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)),
    ):
        try:
            result = send()
            out[name] = f"SENT {result!r}"
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    from medsynth import netguard
    out["attempts"] = netguard.blocked_attempts()
    print(json.dumps(out))

raise SystemExit(cli.main(["udp-probe"]))
"""


def test_cli_entry_point_blocks_udp_to_outside() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["loopback"] == "ping"
    for name in ("sendto", "sendmsg"):
        assert out[name].startswith(
            "NetworkBlocked: MedSynth blocked a network connection to 192.0.2.1:9"
        ), out[name]
    assert out["raw"].startswith("NetworkBlocked: MedSynth blocked a raw network socket")
    assert out["attempts"] == ["192.0.2.1:9", "192.0.2.1:9", "a raw network socket"]
