"""The network guard's rule: loopback and configured hosts pass, everything else is refused.

The rule is checked on audit-event arguments directly, so no blocked address is ever contacted.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from medsynth import netguard
from medsynth.config import Config


def test_rule_on_event_arguments() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        netguard.check("socket.connect", (sock, ("127.0.0.1", 11434)))
        netguard.check("socket.getaddrinfo", ("localhost", 80, 0, 0, 0))
        with pytest.raises(netguard.NetworkBlocked, match=r"huggingface\.co"):
            netguard.check("socket.getaddrinfo", ("huggingface.co", 443, 0, 0, 0))
        with pytest.raises(netguard.NetworkBlocked, match=r"203\.0\.113\.7:443"):
            netguard.check("socket.connect", (sock, ("203.0.113.7", 443)))
    finally:
        sock.close()
    assert "huggingface.co" in netguard.blocked_attempts()


def test_config_hosts_come_from_roles_and_allowed_hosts() -> None:
    config = Config()
    config.models.generator.backend = "openai"
    config.models.generator.servers = ["http://gpu-a.lan:8000/v1", "gpu-b.lan:8001"]
    config.models.verifier.host = "http://ollama.lan:11434"
    config.models.allowed_hosts = ["10.0.0.5"]
    assert netguard.config_hosts(config) == {"gpu-a.lan", "gpu-b.lan", "ollama.lan", "10.0.0.5"}


GUARDED = r"""
import socket, sys
from medsynth import netguard
netguard.install(["203.0.113.9"])
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
client = socket.create_connection(server.getsockname(), timeout=2)  # loopback: allowed
client.close(); server.close()
try:
    socket.getaddrinfo("pypi-mirror.invalid", 443)
except netguard.NetworkBlocked as exc:
    print("blocked:", exc)
try:
    import urllib.request
    urllib.request.urlopen("https://huggingface.co/api/models", timeout=2)
except OSError as exc:
    print("urllib:", type(exc).__name__)
print("attempts:", netguard.blocked_attempts())
"""


def test_installed_guard_in_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", GUARDED], capture_output=True, text=True, timeout=60, check=True
    )
    assert "blocked: MedSynth blocked a network connection to pypi-mirror.invalid" in done.stdout
    assert "urllib: URLError" in done.stdout
    assert "huggingface.co" in done.stdout.splitlines()[-1]
