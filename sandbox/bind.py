"""BIND 9 for the sandbox: primary zones on loopback, dynamic updates only with the TSIG key."""

from __future__ import annotations

import base64
import secrets
import shutil
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from linkshortening.dns.rfc2136 import TsigKey
from linkshortening.stack.targets import CNAME_TARGET, DEFAULT_ALLOWED_IPS

KEY_NAME = "lsctl-sandbox"
NAMED_CANDIDATES = ("named", "/usr/sbin/named")


def new_tsig_key() -> TsigKey:
    return TsigKey(KEY_NAME, "hmac-sha256", base64.b64encode(secrets.token_bytes(32)).decode())


def named_binary() -> str:
    for candidate in NAMED_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return NAMED_CANDIDATES[-1]  # start() then reports it missing with the fix


def zone_file(zone: str, nameservers: tuple[str, ...] = ("127.0.0.1",)) -> str:
    """A minimal primary zone: SOA and NS on loopback; records arrive by RFC 2136."""
    return (
        "$TTL 300\n"
        f"@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n"
        + "".join(f"@ IN NS ns{i}.{zone}.\n" for i in range(1, len(nameservers) + 1))
        + "".join(f"ns{i} IN A {address}\n" for i, address in enumerate(nameservers, 1))
    )


def twilio_target_zone() -> tuple[str, str]:
    """Twilio's published CNAME target with its published IPs, so that lookups of it through
    the sandbox resolver answer as the real one does."""
    return CNAME_TARGET, zone_file(CNAME_TARGET) + "".join(
        f"@ IN A {ip}\n" for ip in DEFAULT_ALLOWED_IPS)


def write_config(directory: Path, zones: tuple[str, ...], key: TsigKey, port: int,
                 address: str = "127.0.0.1", two_server_zones: tuple[str, ...] = (),
                 updatable: bool = True) -> Path:
    """named.conf plus one zone file per zone, all under `directory`; returns named.conf.

    `two_server_zones` name a second nameserver, 127.0.0.2, besides 127.0.0.1 (the stale
    one); `updatable=False` makes a server that never takes updates (the stale one).
    """
    directory.mkdir(parents=True, exist_ok=True)
    zone_blocks = []
    static = dict([twilio_target_zone()])
    for zone in (*zones, *static):
        nameservers = ("127.0.0.1", "127.0.0.2") if zone in two_server_zones else ("127.0.0.1",)
        text = static.get(zone) or zone_file(zone, nameservers)
        (directory / f"{zone}.db").write_text(text)
        # A stale journal from an earlier run would replay old updates over the fresh file.
        (directory / f"{zone}.db.jnl").unlink(missing_ok=True)
        update = f' allow-update {{ key "{key.name}"; }};' if updatable and zone in zones else ""
        if zone in zones:  # `lsctl import` reads a zone by AXFR, with the same key
            update += f' allow-transfer {{ key "{key.name}"; }};'
        zone_blocks.append(f'zone "{zone}" {{ type primary; file "{zone}.db";{update} }};\n')
    conf = directory / "named.conf"
    conf.write_text(
        "options {\n"
        f'  directory "{directory}";\n'
        f'  pid-file "{directory}/named.pid";\n'
        f'  session-keyfile "{directory}/session.key";\n'
        f'  managed-keys-directory "{directory}";\n'
        f"  listen-on port {port} {{ {address}; }};\n"
        "  listen-on-v6 { none; };\n"
        "  recursion no;\n"
        "  allow-query { any; };\n"
        "  dnssec-validation no;\n"
        "  notify no;\n"
        "  minimal-responses yes;\n"  # answers without authority and glue, like Route53
        "};\n"
        "controls { };\n"  # no rndc channel on port 953: the sandbox owns no fixed ports
        f'key "{key.name}" {{ algorithm {key.algorithm}; secret "{key.secret}"; }};\n'
        + "".join(zone_blocks)
    )
    conf.chmod(0o600)  # it holds the TSIG secret
    return conf


def argv(conf: Path) -> list[str]:
    # -g: foreground, log to stderr (captured in the sandbox's log file).
    return [named_binary(), "-g", "-c", str(conf)]


def serves(port: int, zone: str, address: str = "127.0.0.1") -> bool:
    """True once named answers authoritatively for `zone`."""
    query = dns.message.make_query(zone, "SOA")
    try:
        response = dns.query.udp(query, address, port=port, timeout=0.5)
    except (dns.exception.DNSException, OSError):
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.answer)
