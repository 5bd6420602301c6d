"""The addresses students can open: this machine's own IPv4 addresses, and what the server
listening on a given host means for them.

Found without a single packet on the network: on Linux each interface's address is asked
of the kernel (an ioctl on a socket that is never connected nor used to send); elsewhere
the machine's host name is resolved, which the system answers from its own tables.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys

ALL_INTERFACES = {"0.0.0.0", "::", ""}  # noqa: S104 (these are what we test for)
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
# interfaces of containers and virtual machines: listed after the real network's
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "cni", "podman")


def _interface_addresses() -> list[tuple[str, str]]:
    """(interface name, IPv4 address) of every interface that has one (Linux only)."""
    if not sys.platform.startswith("linux"):
        return []
    import fcntl

    siocgifaddr = 0x8915
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), siocgifaddr, request)
            except OSError:  # the interface has no IPv4 address
                continue
            out.append((name, socket.inet_ntoa(answer[20:24])))
    return out


def _host_name_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


def reachable(address: str) -> bool:
    """Whether another machine could reach this IPv4 address (not loopback, link-local,
    unspecified or multicast)."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that other machines can reach, the real network's
    first (container and VM bridges last), each once."""
    named = _interface_addresses() or [("", a) for a in _host_name_addresses()]
    ranked = sorted(
        enumerate(named), key=lambda item: (item[1][0].startswith(VIRTUAL_PREFIXES), item[0])
    )
    out: list[str] = []
    for _, (_, address) in ranked:
        if reachable(address) and address not in out:
            out.append(address)
    return out


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _netloc(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):  # an IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


def _url(host: str, port: int) -> str:
    return f"http://{_netloc(host, port)}"


def server_info(host: str, port: int, local: tuple[str, int] | None = None) -> dict:
    """What `GET /api/server` answers for a server listening on host:port.

    `local` is the address and port a request came in on: when another machine could
    reach that address, the server is plainly reachable there (whatever the settings say,
    for a server started some other way than `stepgrad serve`)."""
    share: list[str] = []
    if local and reachable(local[0]):
        share.append(_url(*local))
    if host in ALL_INTERFACES:
        share += [_url(a, port) for a in lan_addresses()]
    elif not is_loopback_host(host):
        share.append(_url(host, port))
    share = list(dict.fromkeys(share))
    loopback_only = is_loopback_host(host) and not share
    return {
        "listen": _netloc(host or "0.0.0.0", port),  # noqa: S104
        "loopback_only": loopback_only,
        "share_urls": share,
    }


def banner(host: str, port: int) -> list[str]:
    """The lines `stepgrad serve` prints about who can open the app."""
    info = server_info(host, port)
    local = _url("127.0.0.1" if host in ALL_INTERFACES or is_loopback_host(host) else host, port)
    lines = [f"stepgrad: open {local}/ on this computer"]
    if info["loopback_only"]:
        lines.append(
            "stepgrad: only this computer can connect; to share links with students, "
            "start with --lan (or --host 0.0.0.0)"
        )
    elif info["share_urls"]:
        lines.append("stepgrad: students on the same network can open:")
        lines += [f"  {url}/" for url in info["share_urls"]]
    else:
        lines.append(
            "stepgrad: listening on every interface, but this computer has no network address"
        )
    return lines
