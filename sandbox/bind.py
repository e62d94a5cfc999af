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

from linkshortening.rfc2136 import TsigKey

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


def zone_file(zone: str) -> str:
    """A minimal primary zone: SOA and one NS on loopback; records arrive by RFC 2136."""
    return (
        "$TTL 300\n"
        f"@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n"
        f"@ IN NS ns1.{zone}.\n"
        "ns1 IN A 127.0.0.1\n"
    )


def write_config(directory: Path, zones: tuple[str, ...], key: TsigKey, port: int) -> Path:
    """named.conf plus one zone file per zone, all under `directory`; returns named.conf."""
    directory.mkdir(parents=True, exist_ok=True)
    zone_blocks = []
    for zone in zones:
        (directory / f"{zone}.db").write_text(zone_file(zone))
        # A stale journal from an earlier run would replay old updates over the fresh file.
        (directory / f"{zone}.db.jnl").unlink(missing_ok=True)
        zone_blocks.append(
            f'zone "{zone}" {{ type primary; file "{zone}.db"; '
            f'allow-update {{ key "{key.name}"; }}; }};\n'
        )
    conf = directory / "named.conf"
    conf.write_text(
        "options {\n"
        f'  directory "{directory}";\n'
        f'  pid-file "{directory}/named.pid";\n'
        f'  session-keyfile "{directory}/session.key";\n'
        f'  managed-keys-directory "{directory}";\n'
        f"  listen-on port {port} {{ 127.0.0.1; }};\n"
        "  listen-on-v6 { none; };\n"
        "  recursion no;\n"
        "  allow-query { any; };\n"
        "  dnssec-validation no;\n"
        "  notify no;\n"
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


def serves(port: int, zone: str) -> bool:
    """True once named answers authoritatively for `zone`."""
    query = dns.message.make_query(zone, "SOA")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
    except (dns.exception.DNSException, OSError):
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.answer)
