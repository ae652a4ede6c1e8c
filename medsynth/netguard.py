"""Network guard: sockets reach loopback and the model servers named in the config, nothing else.

Installed by the CLI before any command runs, as a Python audit hook: it sees every
``socket.connect``, every ``sendto``/``sendmsg`` to an address (UDP needs no connect), every name
lookup and every new socket before it happens, so a blocked attempt never leaves the machine.
Raw and packet sockets are refused outright: they could send anything to anyone. It raises
:class:`NetworkBlocked` (a ``ConnectionRefusedError``, so libraries that probe for a network
treat it as offline) naming the host and what to do.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from medsynth.config import Config

LOCAL_NAMES = {"localhost", "ip6-localhost", "ip6-loopback", ""}


class NetworkBlocked(ConnectionRefusedError):
    """A connection or lookup to a host outside the allowed set."""


class _Guard:
    def __init__(self) -> None:
        self.installed = False
        self.names: set[str] = set(LOCAL_NAMES)
        self.addresses: set[str] = set()
        self.blocked: list[str] = []
        self.lock = threading.Lock()

    def allow(self, hosts: Iterable[str]) -> None:
        for host in hosts:
            host = host.strip().lower()
            if not host:
                continue
            self.names.add(host)
            try:
                ipaddress.ip_address(host)
                self.addresses.add(host)
                continue
            except ValueError:
                pass
            try:  # resolve allowed names now, while lookups of them are allowed
                for info in socket.getaddrinfo(host, None):
                    self.addresses.add(str(info[4][0]))
            except OSError:
                continue  # unresolvable now: the name stays allowed, the lookup may work later

    def address_allowed(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return host.lower() in self.names
        return ip.is_loopback or host in self.addresses or ip.is_unspecified

    def check(self, event: str, args: tuple[Any, ...]) -> None:
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args[0], args[1]
            if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", -1):
                return
            if isinstance(address, tuple) and address and not self.address_allowed(str(address[0])):
                self._refuse(f"{address[0]}:{address[1] if len(address) > 1 else ''}")
        elif event == "socket.__new__":
            family, kind = args[1], args[2]
            if family == getattr(socket, "AF_PACKET", -1) or (
                isinstance(kind, int) and kind & 0xF == getattr(socket, "SOCK_RAW", -1)
            ):
                self._refuse("a raw network socket", raw=True)
        elif event in (
            "socket.getaddrinfo",
            "socket.gethostbyname",
            "socket.gethostbyaddr",
            "socket.getnameinfo",
        ):
            host = args[0][0] if event == "socket.getnameinfo" and args[0] else args[0]
            if isinstance(host, bytes):
                host = host.decode("ascii", "replace")
            if host is None:
                return
            host = str(host)
            if host.lower() in self.names or self.address_allowed(host):
                return
            self._refuse(host)

    def _refuse(self, target: str, *, raw: bool = False) -> None:
        with self.lock:
            self.blocked.append(target)
        if raw:
            raise NetworkBlocked(
                "MedSynth blocked a raw network socket: only ordinary connections to loopback "
                "and the servers named in medsynth.toml are allowed."
            )
        raise NetworkBlocked(
            f"MedSynth blocked a network connection to {target}: only loopback and the servers "
            "named in medsynth.toml may be reached (nothing is downloaded at run time). If this "
            "is your model server, add its host to [models] allowed_hosts or to the role's "
            "host/servers."
        )


_GUARD = _Guard()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event.startswith("socket."):
        _GUARD.check(event, args)


def config_hosts(config: Config) -> set[str]:
    """Hosts named by the config: allowed_hosts plus every role's host and servers."""
    hosts = set(config.models.allowed_hosts)
    for role in (
        config.models.generator,
        config.models.vision_generator,
        config.models.verifier,
        config.models.base_model,
    ):
        for url in [role.host, *role.servers]:
            if url:
                hosts.add(urlparse(url if "://" in url else f"http://{url}").hostname or "")
    return {h for h in hosts if h}


def install(hosts: Iterable[str] = ()) -> None:
    """Turn the guard on for this process (idempotent; more hosts may be allowed later)."""
    _GUARD.allow(hosts)
    if not _GUARD.installed:
        sys.addaudithook(_hook)
        _GUARD.installed = True


def blocked_attempts() -> list[str]:
    """Targets refused so far in this process."""
    with _GUARD.lock:
        return list(_GUARD.blocked)


def check(event: str, args: tuple[Any, ...]) -> None:
    """Apply the guard's rule to one audit event without installing it (for tests)."""
    _GUARD.check(event, args)
