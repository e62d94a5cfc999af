"""DNS-01 over RFC 2136 dynamic updates with TSIG: signed updates per zone, each fitting one
DNS message over TCP."""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.update

from acme_renewer.challenge import CHALLENGE_TTL, ChallengeRecord, Failure, by_name, by_zone
from linkshortening.common.secrets import read_secret
from linkshortening.dns.batches import MAX_UPDATE_SIZE, split_rfc2136
from linkshortening.dns.rfc2136 import (
    DnsUpdateError,
    Endpoint,
    TsigKey,
    new_update,
    send_update,
)
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DnsSettings

SERVER_ENV = "LSCTL_RFC2136_SERVER"


@dataclass(frozen=True)
class Rfc2136Provider:
    server: Endpoint
    key: TsigKey
    # Bytes per signed update; a class setting, so a test can force many batches per zone.
    max_update_size: ClassVar[int] = MAX_UPDATE_SIZE

    @classmethod
    def from_settings(cls, settings: DnsSettings, source: str) -> Rfc2136Provider:
        """The server from $LSCTL_RFC2136_SERVER or the stack; the secret from the environment."""
        server = os.environ.get(SERVER_ENV) or settings.server
        if not server:
            raise ConfigError(source, "lsctl:dns.server", "no RFC 2136 server is configured",
                              f"set dns.server in the stack, or export {SERVER_ENV}=host:port")
        assert settings.tsig_key_name is not None
        env = settings.tsig_secret_env
        secret = read_secret(env, f"TSIG key {settings.tsig_key_name}")
        key = TsigKey(settings.tsig_key_name, settings.tsig_algorithm, secret)
        try:  # decoded here, so a damaged secret stops the run before any order is placed
            decoded = key.to_dnspython().secret
        except (binascii.Error, ValueError) as exc:
            problem = f"not base64 ({exc})"
        else:
            if decoded:
                return cls(Endpoint.parse(server), key)
            problem = "empty once decoded"
        raise ConfigError(source, "lsctl:dns.tsigKeyName",
                          f"the secret of TSIG key {settings.tsig_key_name} in {env} "
                          f"(or {env}_FILE) is {problem}",
                          "give the base64 `secret` of the key as BIND's tsig-keygen printed it")

    def present(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        # add, not replace: apex and wildcard share one name, and values of other clients
        # (or of a still-running earlier order) must survive.
        return self._send(records, lambda update, name, txt: update.add(
            name, CHALLENGE_TTL, *txt))

    def cleanup(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        return self._send(records, lambda update, name, txt: update.delete(name, *txt))

    def _send(self, records: Sequence[ChallengeRecord],
              change: Callable[[dns.update.UpdateMessage, dns.name.Name,
                                list[dns.rdata.Rdata]], None],
              ) -> list[Failure]:
        """Per zone, as many signed updates as it takes to fit a DNS message; each update is
        atomic on the server, so a refused one fails exactly its own records."""
        failures = []
        for zone, in_zone in by_zone(records).items():
            # Parsed once: each item is put into a probe and into its batch.
            items = [(name, dns.name.from_text(name), _txt(values))
                     for name, values in by_name(in_zone).items()]
            batches = split_rfc2136(partial(new_update, zone, self.key), items,
                                    lambda update, item: change(update, item[1], item[2]),
                                    self.max_update_size)
            for update, batch in batches:
                names = {name for name, _, _ in batch}
                try:
                    send_update(self.server, update)
                except DnsUpdateError as exc:
                    failures.append(Failure.of((r for r in in_zone if r.name in names), exc,
                                               refused=exc.refused))
        return failures


def _txt(values: list[str]) -> list[dns.rdata.Rdata]:
    return [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, f'"{v}"') for v in values]
