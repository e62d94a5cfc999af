"""ACME DNS-01 issuance in phases against the sandbox's real Pebble and BIND 9."""

from __future__ import annotations

import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKEC

from acme_renewer.issuance import AcmeAccount, AcmeSession, Issue, issue_all
from acme_renewer.rfc2136_provider import Rfc2136Provider
from linkshortening.dns.query import ask
from linkshortening.stack.model import DnsSettings
from sandbox.lifecycle import SandboxState
from tests.conftest import point_at


@pytest.fixture
def session(sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch) -> AcmeSession:
    point_at(sandbox, monkeypatch)
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    account = AcmeAccount(sandbox.acme_directory, key, ca_bundle=str(sandbox.ca_bundle),
                          email="ops@lsctl.test")
    url = AcmeSession(account).register(agree_tos=True)
    return AcmeSession(AcmeAccount(account.directory_url, key, account.ca_bundle, url))


def provider(sandbox: SandboxState) -> Rfc2136Provider:
    return Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")


def test_root_subdomain_and_wildcard_in_one_run(session: AcmeSession,
                                                sandbox: SandboxState) -> None:
    tag = uuid.uuid4().hex[:6]
    issues = [Issue(("lsctl.test",)), Issue((f"go{tag}.lsctl.test",)),
              Issue((f"w{tag}.lsctl.test", f"*.w{tag}.lsctl.test"), key_type="rsa-2048")]
    phases: list[str] = []
    issue_all(session, issues, provider(sandbox), propagation_interval=0.1,
              phase=phases.append)
    assert phases == ["order", "present", "propagate", "validate", "finalize", "cleanup"]
    root = x509.load_pem_x509_certificate(sandbox.pebble_root.read_bytes())
    for issue in issues:
        assert issue.error is None, issue.error
        assert issue.fullchain_pem is not None
        chain = x509.load_pem_x509_certificates(issue.fullchain_pem.encode())
        sans = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(issue.names)
        chain[-1].verify_directly_issued_by(root)
    # Cleanup left no challenge value behind.
    for issue in issues:
        for record in issue.records:
            assert f'"{record.value}"' not in ask(sandbox.dns, record.name, "TXT").values


def test_one_failing_domain_does_not_stop_the_others(session: AcmeSession,
                                                     sandbox: SandboxState) -> None:
    tag = uuid.uuid4().hex[:6]
    # A name outside every sandbox zone: its challenge cannot be located, the order fails.
    issues = [Issue((f"ok{tag}.lsctl.test",)), Issue((f"x{tag}.not-served.test",))]
    issue_all(session, issues, provider(sandbox), propagation_interval=0.1)
    assert issues[0].error is None and issues[0].fullchain_pem
    assert issues[1].error is not None and "not-served.test" in issues[1].error


def test_journal_brackets_the_records(session: AcmeSession, sandbox: SandboxState) -> None:
    tag = uuid.uuid4().hex[:6]
    journal: list[list[str]] = []
    issue_all(session, [Issue((f"j{tag}.lsctl.test",))], provider(sandbox),
              propagation_interval=0.1, journal=lambda rs: journal.append([r.name for r in rs]))
    assert journal == [[f"_acme-challenge.j{tag}.lsctl.test"], []]
