"""Preflight finds each problem Twilio would reject, from a real certificate made for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from linkshortening.certs.preflight import (
    Problem,
    certificate_names,
    check,
    check_tls_cert,
    covers,
    is_ready,
)
from tests.certfactory import (
    KeyType,
    cached_key,
    issuer_loop,
    make_chain,
    pem,
    pkcs8,
    self_signed,
)
from tests.test_tlscert import lazily_broken

NOW = datetime.now(UTC)
DOMAIN = "link.example.com"
GOOD = make_chain([DOMAIN])


def codes(problems: list[Problem]) -> list[int | None]:
    return [p.code for p in problems if p.severity == "error"]


def only_error(problems: list[Problem]) -> Problem:
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("key_type", ["rsa2048", "rsa3072", "rsa4096", "ec256", "ec384"])
def test_a_good_chain_is_ready(key_type: KeyType) -> None:
    chain = make_chain([DOMAIN], key_type=key_type)
    assert check(chain.chain_pem, chain.leaf.key_pem.strip(), DOMAIN, NOW) == []
    assert check_tls_cert(chain.tls_cert, DOMAIN, NOW) == []


def test_expired() -> None:
    chain = make_chain([DOMAIN], NOW - timedelta(days=100), NOW - timedelta(days=10))
    problem = only_error(check_tls_cert(chain.tls_cert, DOMAIN, NOW))
    assert problem.code == 30102 and "expired" in problem.message


def test_not_yet_valid() -> None:
    chain = make_chain([DOMAIN], NOW + timedelta(days=1), NOW + timedelta(days=90))
    problem = only_error(check_tls_cert(chain.tls_cert, DOMAIN, NOW))
    assert problem.code == 30102 and "not valid until" in problem.message


def test_expiring_soon_is_a_warning_with_twilios_code() -> None:
    chain = make_chain([DOMAIN], NOW - timedelta(days=80), NOW + timedelta(days=10))
    problems = check_tls_cert(chain.tls_cert, DOMAIN, NOW)
    assert [(p.code, p.severity) for p in problems] == [(30131, "warning")]
    assert is_ready(problems)
    assert check_tls_cert(chain.tls_cert, DOMAIN, NOW, min_days=5) == []


def test_self_signed() -> None:
    cert = self_signed([DOMAIN])
    tls_cert = pem(cert.cert) + "\n" + cert.key_pem.strip()
    assert codes(check_tls_cert(tls_cert, DOMAIN, NOW)) == [30129]


def test_wrong_domain() -> None:
    problem = only_error(check_tls_cert(GOOD.tls_cert, "go.example.org", NOW))
    assert problem.code is None and "does not cover go.example.org" in problem.message


def test_wildcard_one_level_too_deep() -> None:
    chain = make_chain(["*.example.com"])
    assert check_tls_cert(chain.tls_cert, DOMAIN, NOW) == []
    problem = only_error(check_tls_cert(chain.tls_cert, "a.link.example.com", NOW))
    assert "*.example.com covers exactly one label" in problem.message
    bare = only_error(check_tls_cert(chain.tls_cert, "example.com", NOW))
    assert "does not cover example.com itself" in bare.message


def test_common_name_ignored_when_sans_exist() -> None:
    chain = make_chain(["other.example.com"], common_name=DOMAIN)
    assert "does not cover" in only_error(check_tls_cert(chain.tls_cert, DOMAIN, NOW)).message


@pytest.mark.parametrize("domain", [DOMAIN, None])
def test_a_common_name_without_a_san_is_refused(domain: str | None) -> None:
    # Browsers ignore the CN (Chrome since 58); the emulator, like Twilio, answers 30132.
    cn_only = make_chain([], common_name=DOMAIN)
    assert certificate_names(cn_only.leaf.cert) == []
    problem = only_error(check_tls_cert(cn_only.tls_cert, domain, NOW))
    assert problem.code == 30132
    assert f"no DNS name in a Subject Alternative Name (only the Common Name {DOMAIN}" \
        in problem.message
    assert "Subject Alternative Names" in problem.fix


def test_a_san_without_a_common_name_is_ready() -> None:
    # Let's Encrypt's tlsserver and shortlived profiles issue exactly this (issue 17).
    no_cn = make_chain([DOMAIN], common_name="")
    assert no_cn.leaf.cert.subject == x509.Name([])
    assert certificate_names(no_cn.leaf.cert) == [DOMAIN]
    assert check_tls_cert(no_cn.tls_cert, DOMAIN, NOW) == []
    problem = only_error(check_tls_cert(no_cn.tls_cert, "go.example.org", NOW))
    assert f"its names: {DOMAIN}" in problem.message


def test_mismatched_key() -> None:
    other = pkcs8(cached_key("ec256", 7)).strip()
    problem = only_error(check(GOOD.chain_pem, other, DOMAIN, NOW))
    assert problem.code == 30119


def test_chain_out_of_order() -> None:
    chain = make_chain([DOMAIN], intermediates=2)
    leaf, near, far = (pem(c) for c in chain.certs)
    problem = only_error(check("\n".join([leaf, far, near]), chain.leaf.key_pem.strip(),
                               DOMAIN, NOW))
    assert problem.code is None and "out of order" in problem.message
    assert "lsctl cert bundle" in problem.fix


def test_leaf_not_first_is_a_key_mismatch_naming_where_the_key_belongs() -> None:
    leaf, intermediate = (pem(c) for c in GOOD.certs)
    problems = check(f"{intermediate}\n{leaf}", GOOD.leaf.key_pem.strip(), DOMAIN, NOW)
    mismatch = next(p for p in problems if p.code == 30119)
    assert "certificate 2" in mismatch.message
    assert any("out of order" in p.message for p in problems)


def test_broken_chain() -> None:
    chain = make_chain([DOMAIN], intermediates=2)
    leaf, _, far = (pem(c) for c in chain.certs)
    problem = only_error(check(f"{leaf}\n{far}", chain.leaf.key_pem.strip(), DOMAIN, NOW))
    assert "broken chain: certificate 2" in problem.message


def loop_tls_cert(count: int, *, same_name: bool = True, key_ids: bool = False,
                  order: list[int] | None = None) -> str:
    loop = issuer_loop(count, [DOMAIN], same_name=same_name, key_ids=key_ids)
    picked = [loop[i] for i in order] if order else loop
    return "\n".join(pem(c.cert) for c in picked) + "\n" + loop[0].key_pem.strip()


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_a_two_certificate_issuer_loop_is_refused(order: list[int]) -> None:
    # A issued by B, B issued by A: every link verifies, yet no root ends the chain.
    problems = check_tls_cert(loop_tls_cert(2, same_name=False, order=order), DOMAIN, NOW)
    loop = next(p for p in problems if "issuer loop" in p.message)
    assert loop.code == 30132 and loop.severity == "error"
    assert f"CN={DOMAIN} loop" in loop.message and "never reaches a root" in loop.message
    assert "the chain your CA sent" in loop.fix
    assert not is_ready(problems)


@pytest.mark.parametrize("key_ids", [False, True], ids=["no-key-ids", "key-ids"])
def test_a_same_named_loop_out_of_order_is_refused(key_ids: bool) -> None:
    problems = check_tls_cert(loop_tls_cert(5, key_ids=key_ids), DOMAIN, NOW)
    assert [p.message for p in problems if p.severity == "error"] == [
        "the chain is out of order",
        f"issuer loop: certificate 1 (CN={DOMAIN}) issued certificate 2 (CN={DOMAIN}), which "
        "leads back to it, so the chain never reaches a root"]


def test_more_certificates_than_a_chain_is_one_problem_not_one_per_certificate() -> None:
    problems = check_tls_cert(loop_tls_cert(11), DOMAIN, NOW)
    assert [p.message for p in problems] == [
        "TlsCert holds 11 certificates; a certificate chain has a leaf and a few intermediates "
        "(at most 10 here)"]
    assert codes(check_tls_cert(loop_tls_cert(11), "go.example.org", NOW)) == [None, None]


def test_root_included_is_a_warning() -> None:
    with_root = GOOD.chain_pem + "\n" + pem(GOOD.root.cert)
    problems = check(with_root, GOOD.leaf.key_pem.strip(), DOMAIN, NOW)
    assert [p.severity for p in problems] == ["warning"] and "root" in problems[0].message


@pytest.mark.parametrize(("chain", "key", "code"), [
    ("", GOOD.leaf.key_pem.strip(), 30116),
    ("hello", GOOD.leaf.key_pem.strip(), 30116),
    ("\n" + GOOD.chain_pem, GOOD.leaf.key_pem.strip(), 30116),
    (GOOD.chain_pem + "\n\n", GOOD.leaf.key_pem.strip(), 30116),
    (GOOD.chain_pem.replace("-----END CERTIFICATE-----\n", "-----END CERTIFICATE-----\n"
                            "Bag Attributes\n"), GOOD.leaf.key_pem.strip(), 30116),
    (GOOD.chain_pem, "", 30116),
    (GOOD.chain_pem, GOOD.leaf.key_pem, 30118),  # a trailing newline
    (GOOD.chain_pem, "junk", 30118),
])
def test_not_pem_or_extra_newlines(chain: str, key: str, code: int) -> None:
    assert code in codes(check(chain, key, DOMAIN, NOW))


def test_unparsable_certificate() -> None:
    leaf, intermediate = (pem(c) for c in GOOD.certs)
    lines = leaf.splitlines()
    damaged = "\n".join([lines[0], lines[1][:10] + "AAAA" + lines[1][14:], *lines[2:]])
    assert 30117 in codes(check(f"{damaged}\n{intermediate}", GOOD.leaf.key_pem.strip(),
                                DOMAIN, NOW))


def test_certificate_with_a_field_that_fails_on_access() -> None:
    broken = x509.load_der_x509_certificate(lazily_broken(GOOD.leaf.cert))
    chain = pem(broken) + "\n" + pem(GOOD.certs[1])
    assert codes(check(chain, GOOD.leaf.key_pem.strip(), DOMAIN, NOW)) == [30117]


def test_tls_cert_without_key() -> None:
    assert 30116 in codes(check_tls_cert(GOOD.chain_pem, DOMAIN, NOW))


@pytest.mark.parametrize("fmt", ["pkcs1", "encrypted", "damaged"])
def test_key_not_pkcs8(fmt: str) -> None:
    key = GOOD.leaf.key
    if fmt == "pkcs1":
        text = key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()).decode().strip()
    elif fmt == "encrypted":
        text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b"pw")).decode().strip()
    else:
        lines = GOOD.leaf.key_pem.strip().splitlines()
        text = "\n".join([lines[0], lines[1][:-4] + "!!!!", *lines[2:]])
    problem = only_error(check(GOOD.chain_pem, text, DOMAIN, NOW))
    assert problem.code == 30118
    expected = {"pkcs1": "only PKCS#8", "encrypted": "encrypted", "damaged": "cannot be parsed"}
    assert expected[fmt] in problem.message


@pytest.mark.parametrize("key_type", ["rsa1024", "ec521", "ed25519"])
def test_unsupported_key_types_say_what_to_generate(key_type: KeyType) -> None:
    chain = make_chain([DOMAIN], key_type=key_type)
    problem = only_error(check_tls_cert(chain.tls_cert, DOMAIN, NOW))
    assert problem.code == 30118 and "openssl genpkey" in problem.fix


def test_crlf_is_a_warning() -> None:
    problems = check_tls_cert(GOOD.tls_cert.replace("\n", "\r\n"), DOMAIN, NOW)
    assert is_ready(problems) and any("CRLF" in p.message for p in problems)


def test_naive_now_is_taken_as_utc() -> None:
    assert check_tls_cert(GOOD.tls_cert, DOMAIN, NOW.replace(tzinfo=None)) == []


@pytest.mark.parametrize(("pattern", "domain", "expected"), [
    ("link.example.com", "LINK.example.com.", True),
    ("*.example.com", "link.example.com", True),
    ("*.example.com", "a.link.example.com", False),
    ("*.example.com", "example.com", False),
    ("*.link.example.com", "link.example.com", False),
    ("link.example.com", "ink.example.com", False),
    ("xn--bcher-kva.example", "bücher.example", True),
])
def test_covers(pattern: str, domain: str, expected: bool) -> None:
    assert covers(pattern, domain) is expected


# ---- properties: any text in, a list of problems out, never an exception ----

@settings(max_examples=80, deadline=None)
@given(label=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
       extra=st.lists(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), max_size=3))
def test_wildcard_covers_exactly_one_label(label: str, extra: list[str]) -> None:
    domain = ".".join([*extra, label, "example.com"])
    assert covers("*.example.com", domain) is (not extra)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=300), st.data()))
def test_any_text_gives_problems_not_exceptions(source: str | st.DataObject) -> None:
    if isinstance(source, str):
        text = source
    else:  # a real TlsCert with a few characters changed or cut
        text = GOOD.tls_cert
        for _ in range(source.draw(st.integers(1, 3))):
            at = source.draw(st.integers(0, len(text) - 1))
            text = text[:at] + source.draw(st.text(max_size=3)) + \
                text[at + source.draw(st.integers(0, 30)):]
    problems = check_tls_cert(text, DOMAIN, NOW)
    assert all(p.severity in ("error", "warning") and p.message and p.fix for p in problems)
