"""This machine's addresses for students, what the listening host means for them, and
`stepgrad serve --lan`; all without a packet on the network."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from stepgrad.app.classroom import lan as network


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to connect or send (what the address listing must never do)."""

    def refuse(*args, **kwargs):
        raise AssertionError("network traffic attempted")

    for name in ("connect", "connect_ex", "send", "sendto", "sendall"):
        monkeypatch.setattr(socket.socket, name, refuse)


def test_lan_addresses_of_this_machine_are_reachable_ipv4(no_network):
    addresses = network.lan_addresses()
    assert len(addresses) == len(set(addresses))
    for address in addresses:
        ip = ipaddress.IPv4Address(address)
        assert not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def test_lan_addresses_skip_loopback_and_link_local_and_put_bridges_last(monkeypatch):
    monkeypatch.setattr(
        network,
        "_interface_addresses",
        lambda: [
            ("lo", "127.0.0.1"),
            ("docker0", "172.17.0.1"),
            ("eth0", "169.254.3.4"),
            ("wlan0", "192.168.1.23"),
            ("eth1", "10.0.0.5"),
            ("wlan0:1", "192.168.1.23"),
        ],
    )
    assert network.lan_addresses() == ["192.168.1.23", "10.0.0.5", "172.17.0.1"]


def test_without_interfaces_the_host_name_is_resolved(monkeypatch):
    monkeypatch.setattr(network, "_interface_addresses", list)
    monkeypatch.setattr(network, "_host_name_addresses", lambda: ["127.0.1.1", "192.168.0.7"])
    assert network.lan_addresses() == ["192.168.0.7"]


@pytest.fixture
def lan(monkeypatch):
    monkeypatch.setattr(network, "lan_addresses", lambda: ["192.168.1.23", "10.0.0.5"])


def test_what_the_listening_host_means(lan):
    assert network.server_info("127.0.0.1", 8000) == {
        "listen": "127.0.0.1:8000",
        "loopback_only": True,
        "share_urls": [],
    }
    assert network.server_info("localhost", 8000)["loopback_only"] is True
    assert network.server_info("::1", 8000)["listen"] == "[::1]:8000"
    assert network.server_info("0.0.0.0", 8123) == {
        "listen": "0.0.0.0:8123",
        "loopback_only": False,
        "share_urls": ["http://192.168.1.23:8123", "http://10.0.0.5:8123"],
    }
    assert network.server_info("::", 80)["share_urls"][0] == "http://192.168.1.23:80"
    assert network.server_info("10.0.0.5", 8000)["share_urls"] == ["http://10.0.0.5:8000"]
    # a request that came in on a network address proves the server is reachable there
    # (on that port), first in the list; loopback or unnamed addresses prove nothing
    info = network.server_info("127.0.0.1", 8000, local=("10.0.0.5", 9000))
    assert info["loopback_only"] is False and info["share_urls"] == ["http://10.0.0.5:9000"]
    for local in (("127.0.0.1", 8000), ("testserver", 80), None):
        assert network.server_info("127.0.0.1", 8000, local=local)["loopback_only"]
    both = network.server_info("0.0.0.0", 8000, local=("10.0.0.5", 8000))["share_urls"]
    assert both == ["http://10.0.0.5:8000", "http://192.168.1.23:8000"]


def test_the_banner_names_the_links_or_says_how_to_share(lan):
    lines = network.banner("0.0.0.0", 8000)
    assert lines[0] == "stepgrad: open http://127.0.0.1:8000/ on this computer"
    assert "  http://192.168.1.23:8000/" in lines and "  http://10.0.0.5:8000/" in lines
    loopback = "\n".join(network.banner("127.0.0.1", 8000))
    assert "only this computer can connect" in loopback and "--lan" in loopback


def serve_args(monkeypatch, argv: list[str]) -> dict:
    import uvicorn

    from stepgrad.app.cli.main import main

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    monkeypatch.setenv("STEPGRAD_DB", ":memory:")
    monkeypatch.delenv("STEPGRAD_HOST", raising=False)
    assert main(argv) == 0
    return seen


def test_serve_lan_listens_everywhere_and_prints_the_addresses(monkeypatch, capsys, lan):
    seen = serve_args(monkeypatch, ["serve", "--lan", "--port", "8123"])
    assert seen["host"] == "0.0.0.0" and seen["port"] == 8123
    assert seen["app"].state.services.settings.host == "0.0.0.0"  # the API reports it
    out = capsys.readouterr().out
    assert "students on the same network can open:" in out
    assert "  http://192.168.1.23:8123/\n" in out


def test_serve_on_loopback_says_how_to_share(monkeypatch, capsys, lan):
    seen = serve_args(monkeypatch, ["serve"])
    assert seen["host"] == "127.0.0.1"
    assert "start with --lan" in capsys.readouterr().out


def test_lan_and_host_exclude_each_other(capsys):
    from stepgrad.app.cli.main import main

    with pytest.raises(SystemExit):
        main(["serve", "--lan", "--host", "10.0.0.5"])
    assert "not allowed with argument" in capsys.readouterr().err
