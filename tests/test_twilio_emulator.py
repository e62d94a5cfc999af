"""The sandbox's Twilio emulator over raw HTTP: auth, error bodies, Twilio's certificate checks,
validation, ValidateDns against the real BIND 9, associations and fault knobs.

Raw `requests` calls on purpose: the emulator is judged here without lsctl's client in the way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKEC

from linkshortening.certs.tlscert import build_tls_cert
from linkshortening.dns.rfc2136 import replace_rrset
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import Chain, issue, make_chain, new_key, pem, pkcs8, self_signed
from tests.conftest import new_domain, new_messaging_service, point_at

TWILIO_IPS = ("3.233.187.46", "3.233.108.250", "54.157.2.211")
ERROR_KEYS = {"code", "message", "more_info", "status"}

pytestmark = pytest.mark.usefixtures("test_ca_trusted")


class Emulator:
    """Raw HTTP to the emulator as the sandbox account."""

    def __init__(self, sandbox: SandboxState) -> None:
        self.base = sandbox.twilio_base_url
        self.session = requests.Session()
        self.ca = str(sandbox.ca_bundle)  # per request: REQUESTS_CA_BUNDLE beats session.verify
        self.session.auth = (sandbox.twilio_account_sid,
                             sandbox.twilio_auth_token_file.read_text().strip())

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, verify=self.ca,
                                    **kwargs)

    def upload(self, domain_sid: str, tls_cert: str) -> requests.Response:
        return self.call("POST", f"/v1/LinkShortening/Domains/{domain_sid}/Certificate",
                         data={"TlsCert": tls_cert})

    def certificate(self, domain_sid: str, version: int = 1) -> requests.Response:
        return self.call("GET", f"/v{version}/LinkShortening/Domains/{domain_sid}/Certificate")


@pytest.fixture
def http(sandbox: SandboxState) -> Emulator:
    return Emulator(sandbox)


def assert_twilio_error(resp: requests.Response, status: int, code: int) -> dict[str, Any]:
    body: dict[str, Any] = resp.json()
    assert (resp.status_code, body.get("code")) == (status, code), body
    assert set(body) == ERROR_KEYS and body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert resp.headers["Content-Type"].startswith("application/json")
    return body


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `check` (the emulator validates on its own clock)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# --- authentication and the error body ----------------------------------------------------


def test_wrong_or_missing_credentials_get_twilio_401(sandbox: SandboxState, http: Emulator,
                                                    emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    path = f"{sandbox.twilio_base_url}/v1/LinkShortening/Domains/{sid}/Config"
    ca = str(sandbox.ca_bundle)
    for auth in ((sandbox.twilio_account_sid, "wrong-token"), ("AC" + "0" * 32, "x"), None):
        resp = requests.get(path, auth=auth, verify=ca, timeout=10)
        assert_twilio_error(resp, 401, 20003)
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    # The sandbox's API key and secret are accepted like the auth token.
    key_auth = (sandbox.twilio_api_key_sid, sandbox.twilio_api_secret_file.read_text().strip())
    assert requests.get(path, auth=key_auth, verify=ca, timeout=10).status_code == 200
    assert http.call("GET", f"/v1/LinkShortening/Domains/{sid}/Config").status_code == 200


def test_unknown_paths_methods_and_domains(http: Emulator) -> None:
    assert_twilio_error(http.call("GET", "/v1/LinkShortening/Nope"), 404, 20404)
    assert_twilio_error(http.call("GET", "/v1/LinkShortening/Domains/DN12/Config"), 404, 20404)
    unknown = "DN" + uuid.uuid4().hex
    assert_twilio_error(http.call("PUT", f"/v1/LinkShortening/Domains/{unknown}/Config"),
                        405, 20004)
    assert_twilio_error(http.call("GET", f"/v1/LinkShortening/Domains/{unknown}/Config"),
                        400, 30100)


def test_control_endpoint_needs_auth_and_refuses_unknown_knobs(sandbox: SandboxState,
                                                              http: Emulator) -> None:
    url = sandbox.twilio_base_url + "/__emulator/config"
    anonymous = requests.post(url, json={"rate_limited": 1}, verify=str(sandbox.ca_bundle),
                              timeout=10)
    assert anonymous.status_code == 401
    refused = http.call("POST", "/__emulator/config", json={"no_such_knob": 1})
    assert refused.status_code == 400 and "no_such_knob" in refused.json()["error"]
    assert http.call("GET", "/__emulator/config").json()["rate_limited"] == 0


# --- certificate checks, each with Twilio's code --------------------------------------------


def _pkcs1_key(name: str) -> str:
    chain = make_chain((name,), key_type="rsa2048")
    legacy = chain.leaf.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()).decode()
    return chain.chain_pem + "\n" + legacy.strip()


def _encrypted_key(name: str) -> str:
    chain = make_chain((name,))
    encrypted = chain.leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")).decode()
    return chain.chain_pem + "\n" + encrypted.strip()


def _corrupt_certificate(name: str) -> str:
    chain = make_chain((name,))
    lines = pem(chain.leaf.cert).splitlines()
    lines[3] = "A" * len(lines[3])  # still base64, no longer DER
    return "\n".join(lines) + "\n" + chain.leaf.key_pem.strip()


def _self_signed(name: str) -> str:
    cert = self_signed((name,))
    return pem(cert.cert) + "\n" + cert.key_pem.strip()


def _expired(name: str) -> str:
    now = datetime.now(UTC)
    return make_chain((name,), now - timedelta(days=100), now - timedelta(days=10)).tls_cert


def _untrusted_root(name: str) -> str:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=90)
    root = issue([], new_key("ec256"), None, not_before=start, not_after=end, ca=True,
                 common_name="Untrusted Root")
    leaf = issue([name], new_key("ec256"), root, not_before=start, not_after=end)
    return pem(leaf.cert) + "\n" + leaf.key_pem.strip()


def _valid(name: str) -> Chain:
    return make_chain((name,))


# (why, a TlsCert for the domain name, expected Twilio code)
BAD_UPLOADS: list[tuple[str, Callable[[str], str], int]] = [
    ("empty", lambda n: "", 30116),
    ("certificate without key", lambda n: _valid(n).chain_pem, 30116),
    ("key without certificate", lambda n: _valid(n).leaf.key_pem.strip(), 30116),
    ("not PEM at all", lambda n: "hello, Twilio", 30116),
    ("text between blocks",
     lambda n: _valid(n).chain_pem + "\nsubject=CN=x\n" + _valid(n).leaf.key_pem.strip(), 30116),
    ("newline before the certificate", lambda n: "\n" + _valid(n).tls_cert, 30116),
    ("blank line between certificates",
     lambda n: _valid(n).tls_cert.replace("-----END CERTIFICATE-----\n",
                                          "-----END CERTIFICATE-----\n\n", 1), 30116),
    ("blank line before the key",
     lambda n: _valid(n).chain_pem + "\n\n" + _valid(n).leaf.key_pem.strip(), 30118),
    ("newline after the key", lambda n: _valid(n).tls_cert + "\n", 30118),
    ("corrupt certificate", _corrupt_certificate, 30117),
    ("PKCS#1 key (BEGIN RSA PRIVATE KEY)", _pkcs1_key, 30118),
    ("encrypted PKCS#8 key", _encrypted_key, 30118),
    ("garbage in the key block",
     lambda n: _valid(n).chain_pem + "\n-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                     "-----END PRIVATE KEY-----", 30118),
    ("key of another certificate",
     lambda n: _valid(n).chain_pem + "\n" + pkcs8(new_key("ec256")).strip(), 30119),
    ("self-signed", _self_signed, 30129),
    ("expired", _expired, 30102),
    ("chain to an untrusted root", _untrusted_root, 30132),
    ("intermediate missing",
     lambda n: pem(_valid(n).leaf.cert) + "\n" + _valid(n).leaf.key_pem.strip(), 30132),
    ("certificate for another domain", lambda n: _valid("elsewhere.lsctl.test").tls_cert, 30132),
]


@pytest.mark.parametrize(("why", "spoil", "code"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_bad_upload_gets_twilios_code(emulator: EmulatorControl, http: Emulator, why: str,
                                      spoil: Callable[[str], str], code: int) -> None:
    sid, name = new_domain(emulator)
    resp = http.upload(sid, spoil(name))
    assert_twilio_error(resp, 400, code)
    # A refused upload leaves no certificate behind.
    assert_twilio_error(http.certificate(sid), 404, 20404)


@pytest.mark.parametrize(("names", "domain", "accepted"), [
    (("*.w.lsctl.test",), "x.w.lsctl.test", True),
    (("other.lsctl.test", "go.w.lsctl.test"), "go.w.lsctl.test", True),
    (("*.w.lsctl.test",), "w.lsctl.test", False),  # a wildcard does not cover its parent
    (("*.w.lsctl.test",), "a.b.w.lsctl.test", False),  # nor two labels
    (("GO.W.LSCTL.TEST",), "go.w.lsctl.test", True),  # names compare without case
])
def test_names_and_wildcards(emulator: EmulatorControl, http: Emulator, names: tuple[str, ...],
                             domain: str, accepted: bool) -> None:
    tag = uuid.uuid4().hex[:6]
    names = tuple(n.replace("w.", f"w{tag}.", 1).replace("W.", f"W{tag}.", 1) for n in names)
    domain = domain.replace("w.", f"w{tag}.", 1)
    sid, _ = new_domain(emulator, domain)
    resp = http.upload(sid, make_chain(names).tls_cert)
    if accepted:
        assert resp.status_code == 201, resp.text
    else:
        assert "not valid for" in assert_twilio_error(resp, 400, 30132)["message"]


def test_a_certificate_without_a_common_name_is_accepted(emulator: EmulatorControl,
                                                         http: Emulator) -> None:
    # Twilio documents SANs and names no Common Name requirement; Let's Encrypt's tlsserver
    # and shortlived profiles issue exactly this (issue 17). Whether Twilio's real validator
    # agrees is not documented: lsctl warns on the first such upload (README).
    sid, name = new_domain(emulator)
    chain = make_chain((name,), common_name="")
    assert chain.leaf.cert.subject.rfc4514_string() == ""
    key = serialization.load_pem_private_key(chain.leaf.key_pem.encode(), None)
    bundle = build_tls_cert(list(chain.certs), key)  # lsctl's own bundle
    assert http.upload(sid, bundle).status_code == 201
    assert "not valid for" in assert_twilio_error(
        http.upload(sid, make_chain(("other.lsctl.test",), common_name="").tls_cert),
        400, 30132)["message"]


def test_crlf_line_endings_are_accepted(emulator: EmulatorControl, http: Emulator) -> None:
    sid, name = new_domain(emulator)
    assert http.upload(sid, make_chain((name,)).tls_cert.replace("\n", "\r\n")).status_code == 201


# --- validation -------------------------------------------------------------------------


def test_accepted_upload_is_pending_then_current(sandbox: SandboxState, http: Emulator,
                                                 emulator: EmulatorControl) -> None:
    emulator.configure(validation_delay=0.5)
    sid, name = new_domain(emulator)
    chain = make_chain((name,))
    expires = chain.leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    created = http.upload(sid, chain.tls_cert)
    assert created.status_code == 201
    body = created.json()
    assert body["cert_in_validation"] == {"status": "pending", "date_expires": expires}
    assert body["domain_name"] == f"https://{name}" and body["date_expires"] is None
    assert body["certificate_sid"].startswith("CW")
    until(lambda: http.certificate(sid).json()["cert_in_validation"] is None)
    current = http.certificate(sid).json()
    assert current["date_expires"] == expires
    assert current["certificate_sid"] == body["certificate_sid"]
    v2 = http.certificate(sid, version=2).json()
    assert (v2["managed"], v2["requesting"]) == (False, False)
    # A renewal replaces the current certificate: 200, not 201, and pending again.
    renewal = http.upload(sid, make_chain((name,)).tls_cert)
    assert renewal.status_code == 200
    assert renewal.json()["cert_in_validation"]["status"] == "pending"
    assert renewal.json()["date_expires"] == expires  # the current one, until validated
    assert http.call("DELETE", f"/v1/LinkShortening/Domains/{sid}/Certificate").status_code == 204
    assert_twilio_error(http.certificate(sid), 404, 20404)


def test_validation_failure_knob(http: Emulator, emulator: EmulatorControl) -> None:
    emulator.configure(validation_delay=0.1, fail_validation=True)
    sid, name = new_domain(emulator)
    assert http.upload(sid, make_chain((name,)).tls_cert).status_code == 201
    until(lambda: http.certificate(sid).json()["cert_in_validation"]["status"] == "failed")
    assert http.certificate(sid).json()["date_expires"] is None


def test_request_managed_cert_is_fulfilled_after_the_delay(http: Emulator,
                                                           emulator: EmulatorControl) -> None:
    emulator.configure(validation_delay=0.3)
    sid, _ = new_domain(emulator)
    asked = http.call("POST", f"/v1/LinkShortening/Domains/{sid}/RequestManagedCert")
    assert asked.status_code == 200
    assert (asked.json()["managed"], asked.json()["requesting"]) == (True, True)
    until(lambda: http.certificate(sid, version=2).json()["requesting"] is False)
    cert = http.certificate(sid, version=2).json()
    assert cert["managed"] is True and cert["date_expires"] is not None


def test_pebble_issued_chain_is_accepted(sandbox: SandboxState, emulator: EmulatorControl,
                                         http: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox trusts Pebble's root: a real ACME certificate passes, without its
    intermediate it does not."""
    from acme_renewer.issuance import AcmeAccount, AcmeSession, Issue, issue_all
    from acme_renewer.rfc2136_provider import Rfc2136Provider
    from linkshortening.stack.model import DnsSettings

    point_at(sandbox, monkeypatch)
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    account = AcmeAccount(sandbox.acme_directory, key, ca_bundle=str(sandbox.ca_bundle))
    url = AcmeSession(account).register(agree_tos=True)
    session = AcmeSession(AcmeAccount(account.directory_url, key, account.ca_bundle, url))
    sid, name = new_domain(emulator)
    order = Issue((name,))
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")
    issue_all(session, [order], provider, propagation_interval=0.1)
    assert order.error is None and order.fullchain_pem
    chain_pem, key_pem = order.fullchain_pem.strip(), order.key_pem.decode().strip()
    leaf_only = chain_pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----"
    assert_twilio_error(http.upload(sid, leaf_only + "\n" + key_pem), 400, 30132)
    assert http.upload(sid, chain_pem + "\n" + key_pem).status_code == 201


# --- ValidateDns ------------------------------------------------------------------------


def test_validate_dns_asks_the_sandbox_bind(sandbox: SandboxState, emulator: EmulatorControl,
                                            http: Emulator) -> None:
    tag = uuid.uuid4().hex[:6]
    cases: dict[str, tuple[list[tuple[str, tuple[str, ...]]], bool, str | None]] = {
        # name -> (records to write, expected is_valid, text in the reason)
        f"root{tag}": ([("A", TWILIO_IPS)], True, None),
        f"extra{tag}": ([("A", (*TWILIO_IPS, "192.0.2.1"))], False, "192.0.2.1"),
        f"short{tag}": ([("A", TWILIO_IPS[:2])], False, "missing A records 54.157.2.211"),
        f"cname{tag}": ([("CNAME", ("lsct.ashburn.us1.twilio.com.",))], True, None),
        f"wrong{tag}": ([("CNAME", ("elsewhere.example.com.",))], False, "elsewhere.example.com"),
        f"none{tag}": ([], False, "neither a CNAME"),
        # BIND follows an in-zone CNAME and answers the target's A records too: the verdict
        # is about the name's own CNAME, not the addresses it leads to.
        f"chain{tag}": ([("CNAME", (f"root{tag}.lsctl.test.",))], False,
                        f"points to root{tag}.lsctl.test,"),
    }
    for label, (records, valid, reason) in cases.items():
        name = f"{label}.lsctl.test"
        for rdtype, values in records:
            replace_rrset(sandbox.dns, "lsctl.test", name + ".", rdtype, 60, values,
                          sandbox.tsig_key())
        sid, _ = new_domain(emulator, name)
        body = http.call("GET", f"/v1/LinkShortening/Domains/{sid}/ValidateDns").json()
        assert body["is_valid"] is valid, (name, body)
        assert (body["reason"] is None) if reason is None else (reason in body["reason"])


# --- config and Messaging Services ------------------------------------------------------


def test_config_is_kept_and_invalid_values_change_nothing(emulator: EmulatorControl,
                                                          http: Emulator) -> None:
    sid, _ = new_domain(emulator)
    path = f"/v1/LinkShortening/Domains/{sid}/Config"
    defaults = http.call("GET", path).json()
    assert (defaults["continue_on_failure"], defaults["disable_https"]) == (True, False)
    assert defaults["fallback_url"] is None and defaults["config_sid"].startswith("ZK")
    changed = http.call("POST", path, data={"FallbackUrl": "https://e.example/expired",
                                            "DisableHttps": "true"}).json()
    assert changed["fallback_url"] == "https://e.example/expired" and changed["disable_https"]
    refused = http.call("POST", path, data={"CallbackUrl": "https://ok.example/x",
                                            "ContinueOnFailure": "maybe"})
    assert_twilio_error(refused, 400, 20001)
    kept = http.call("GET", path).json()
    assert kept["callback_url"] is None and kept["fallback_url"] == "https://e.example/expired"
    assert_twilio_error(http.call("POST", path, data={"FallbackUrl": "ftp://x"}), 400, 20001)


def test_messaging_service_of_another_domain_gets_30130(
        sandbox: SandboxState, emulator: EmulatorControl, http: Emulator) -> None:
    (first, _), (second, _) = new_domain(emulator), new_domain(emulator)
    service = new_messaging_service()
    link = f"/v1/LinkShortening/Domains/{first}/MessagingServices/{service}"
    created = http.call("POST", link)
    assert created.status_code == 201
    assert created.json() == {"domain_sid": first, "messaging_service_sid": service,
                              "url": sandbox.twilio_base_url + link}
    assert http.call("POST", link).status_code == 201  # again: idempotent
    taken = http.call("POST", f"/v1/LinkShortening/Domains/{second}/MessagingServices/{service}")
    assert "already" in assert_twilio_error(taken, 400, 30130)["message"]
    domain = http.call("GET", f"/v1/LinkShortening/MessagingServices/{service}/Domain").json()
    assert domain["domain_sid"] == first
    config = http.call("GET", f"/v1/LinkShortening/MessagingService/{service}/DomainConfig")
    assert config.json()["messaging_service_sid"] == service
    assert http.call("DELETE", link).status_code == 204
    assert_twilio_error(http.call("DELETE", link), 404, 20404)
    assert http.call("POST", f"/v1/LinkShortening/Domains/{second}/MessagingServices/"
                             f"{service}").status_code == 201


# --- fault knobs ------------------------------------------------------------------------


def test_fault_fractions_and_script(sandbox: SandboxState, http: Emulator,
                                    emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    path = f"/v1/LinkShortening/Domains/{sid}/Config"
    emulator.configure(rate_limited=1.0, retry_after=7)
    limited = http.call("GET", path)
    assert_twilio_error(limited, 429, 20429)
    assert limited.headers["Retry-After"] == "7"
    emulator.configure(rate_limited=0.0, unavailable=1.0)
    assert_twilio_error(http.call("GET", path), 503, 20503)
    emulator.configure(unavailable=0.0, retry_later=1.0)
    assert_twilio_error(http.call("GET", path), 400, 30133)
    emulator.configure(retry_later=0.0, script=["503", "429"])
    assert [http.call("GET", path).status_code for _ in range(3)] == [503, 429, 200]
    emulator.configure(rate_limited=0.5)
    statuses = [http.call("GET", path).status_code for _ in range(60)]
    assert 10 < statuses.count(429) < 50 and statuses.count(200) + statuses.count(429) == 60

