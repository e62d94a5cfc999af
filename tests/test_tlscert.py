"""The TlsCert bundle: leaf, intermediates in issuing order, no root, PKCS#8 key, exact newlines."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from linkshortening.certs import tlscert
from linkshortening.certs.keys import pkcs8_pem
from linkshortening.certs.preflight import check_tls_cert
from linkshortening.certs.tlscert import (
    CertFileError,
    build_tls_cert,
    chain_pem,
    issued_by,
    order_chain,
    parse_certificates,
    read_certificates,
    split_tls_cert,
)
from tests.certfactory import cached_key, issuer_loop, make_chain, pem, self_signed

CHAIN = make_chain(["link.example.com"], intermediates=2)
ALL = (*CHAIN.certs, CHAIN.root.cert)


def test_bundle_is_exactly_chain_then_pkcs8_key() -> None:
    value = build_tls_cert(list(CHAIN.certs), CHAIN.leaf.key)
    assert value == CHAIN.tls_cert
    assert value.startswith("-----BEGIN CERTIFICATE-----\n")
    assert value.endswith("\n-----END PRIVATE KEY-----")
    assert "\n\n" not in value and "\r" not in value
    blocks = value.split("-----END CERTIFICATE-----\n")
    assert len(blocks) == 4  # leaf, two intermediates, then the key
    assert blocks[-1] == pkcs8_pem(CHAIN.leaf.key).strip()


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_any_order_with_root_becomes_leaf_intermediates_no_root(order: tuple[int, ...]) -> None:
    given_certs = [ALL[i] for i in order]
    assert order_chain(given_certs, CHAIN.leaf.key) == list(CHAIN.certs)
    assert order_chain(given_certs) == list(CHAIN.certs)  # the leaf is found without the key


def test_duplicates_are_dropped() -> None:
    assert order_chain([*CHAIN.certs, *CHAIN.certs], CHAIN.leaf.key) == list(CHAIN.certs)


def test_unrelated_certificates_stay_at_the_end_for_preflight_to_flag() -> None:
    stranger = make_chain(["other.example.net"], ca=1).intermediates[0]
    ordered = order_chain([stranger.cert, *CHAIN.certs], CHAIN.leaf.key)
    assert ordered == [*CHAIN.certs, stranger.cert]


def test_missing_intermediate_keeps_what_there_is() -> None:
    ordered = order_chain([CHAIN.intermediates[1].cert, CHAIN.leaf.cert], CHAIN.leaf.key)
    assert ordered == [CHAIN.leaf.cert, CHAIN.intermediates[1].cert]
    assert not issued_by(ordered[0], ordered[1])


LOOP_SIZE = 200
LOOPS = {key_ids: [c.cert for c in issuer_loop(LOOP_SIZE, key_ids=key_ids)]
         for key_ids in (False, True)}


def count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-element list counting each signature check order_chain makes from now on."""
    calls = [0]
    real = tlscert.issued_by

    def counting(child: x509.Certificate, parent: x509.Certificate) -> bool:
        calls[0] += 1
        return real(child, parent)

    monkeypatch.setattr(tlscert, "issued_by", counting)
    return calls


@pytest.mark.parametrize("key_ids", [False, True], ids=["no-key-ids", "key-ids"])
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
def test_ordering_a_same_named_loop_checks_a_few_signatures_per_certificate(
        monkeypatch: pytest.MonkeyPatch, key_ids: bool, with_key: bool) -> None:
    # Names tell nothing here (all alike), and the file order is the one that made the old
    # ordering try every pair: 300 certificates took 14 s. Counted, not timed.
    certs = LOOPS[key_ids]
    calls = count_signature_checks(monkeypatch)
    ordered = order_chain(certs, issuer_loop(1)[0].key if with_key else None)
    assert calls[0] <= 10 * LOOP_SIZE
    assert sorted(c.serial_number for c in ordered) == sorted(c.serial_number for c in certs)
    if key_ids:  # the authority key id names each issuer: the whole loop is walked
        assert ordered == [certs[0], *reversed(certs[1:])]
    elif with_key:  # the leaf is the key's; its issuer is past the few same-named candidates
        assert ordered == certs


def _with_subject_key_id(cert: x509.Certificate, key_id: bytes) -> x509.Certificate:
    """`cert` again (same name, key and signer: its own), with this subject key id."""
    key = cached_key("ec256", 7)
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.subject)
               .public_key(key.public_key()).serial_number(cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc)
               .add_extension(x509.SubjectKeyIdentifier(key_id), critical=False))
    return builder.sign(key, hashes.SHA256())


def test_an_authority_key_id_that_names_another_key_is_not_issued_by() -> None:
    # As OpenSSL decides: the signature verifies, but the child says another key signed it.
    ca_key = cached_key("ec256", 7)
    ca = _with_subject_key_id(CHAIN.root.cert, x509.SubjectKeyIdentifier.from_public_key(
        ca_key.public_key()).digest)
    child = (x509.CertificateBuilder().subject_name(CHAIN.leaf.cert.subject)
             .issuer_name(ca.subject).public_key(CHAIN.leaf.key.public_key())
             .serial_number(1).not_valid_before(ca.not_valid_before_utc)
             .not_valid_after(ca.not_valid_after_utc)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 ca_key.public_key()), critical=False)
             .sign(ca_key, hashes.SHA256()))
    assert issued_by(child, ca)
    assert not issued_by(child, _with_subject_key_id(ca, b"\x01" * 20))


def test_more_certificates_than_a_chain_are_refused_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "bundle.crt"
    path.write_text("\n".join(pem(c) for c in LOOPS[False][:11]))
    with pytest.raises(CertFileError, match="holds 11 certificates") as caught:
        read_certificates(path)
    assert "not a CA bundle" in caught.value.fix
    path.write_text("\n".join(pem(c) for c in LOOPS[False][:10]))
    assert len(read_certificates(path).certificates) == 10


def test_self_signed_leaf_is_kept() -> None:
    leaf = self_signed()
    assert order_chain([leaf.cert], leaf.key) == [leaf.cert]


def test_the_bundle_passes_preflight() -> None:
    shuffled = [CHAIN.root.cert, CHAIN.intermediates[1].cert, CHAIN.leaf.cert,
                CHAIN.intermediates[0].cert]
    value = build_tls_cert(shuffled, CHAIN.leaf.key)
    assert check_tls_cert(value, "link.example.com", datetime.now(UTC)) == []


def test_split_returns_both_halves_without_the_joining_newline() -> None:
    chain, key = split_tls_cert(CHAIN.tls_cert)
    assert chain == CHAIN.chain_pem
    assert key == pkcs8_pem(CHAIN.leaf.key).strip()
    assert split_tls_cert(CHAIN.chain_pem) == (CHAIN.chain_pem, None)


def test_reads_messy_pem_files(tmp_path: Path) -> None:
    # What `openssl pkcs12 -nokeys` and some CAs write: attributes, subject lines, CRLF, a BOM.
    parts = [f"Bag Attributes\n    friendlyName: cert{i}\nsubject=CN=x\n{pem(c)}\n\n"
             for i, c in enumerate(CHAIN.certs)]
    path = tmp_path / "chain.crt"
    path.write_bytes(("\ufeff" + "".join(parts)).replace("\n", "\r\n").encode())
    loaded = read_certificates(path)
    assert loaded.certificates == CHAIN.certs and loaded.format == "PEM"


def test_reads_der(tmp_path: Path) -> None:
    path = tmp_path / "leaf.der"
    path.write_bytes(CHAIN.leaf.cert.public_bytes(serialization.Encoding.DER))
    assert read_certificates(path).certificates == (CHAIN.leaf.cert,)


@pytest.mark.parametrize(("content", "code", "words"), [
    (b"hello", 30116, "neither a PEM nor a DER"),
    (b"", 30116, "is empty"),
    (b"\xef\xbb\xbf\n\n", 30116, "is empty"),
    (b"-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n", 30116, "no complete"),
    (b"-----BEGIN CERTIFICATE-----\nMIIB\n", 30116, "no complete"),
    (b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n", 30117,
     "certificate 1 of 1 cannot be parsed"),
])
def test_unusable_certificate_files(tmp_path: Path, content: bytes, code: int,
                                    words: str) -> None:
    path = tmp_path / "bad.crt"
    path.write_bytes(content)
    with pytest.raises(CertFileError) as caught:
        read_certificates(path)
    assert caught.value.code == code
    assert str(caught.value).startswith(f"{path}: ") and words in str(caught.value)


def lazily_broken(cert: x509.Certificate) -> bytes:
    """DER that loads, but with a name or extension that fails on first access."""
    der = cert.public_bytes(serialization.Encoding.DER)
    for at in range(len(der)):
        if der[at] != 0x30:
            continue
        broken = der[:at] + b"\x10" + der[at + 1:]  # a SEQUENCE tag made primitive
        try:
            loaded = x509.load_der_x509_certificate(broken)
        except ValueError:
            continue
        try:
            _ = (loaded.subject, loaded.issuer, loaded.extensions)
        except ValueError:
            return broken
    raise AssertionError("no lazily broken variant found")


def test_fields_parsed_lazily_are_checked_when_loading(tmp_path: Path) -> None:
    # Found by the property test below: load succeeds, reading the subject later raised.
    broken = lazily_broken(CHAIN.leaf.cert)
    path = tmp_path / "leaf.der"
    path.write_bytes(broken)
    with pytest.raises(CertFileError, match="cannot be parsed") as caught:
        read_certificates(path)
    assert caught.value.code == 30117
    text = tmp_path / "leaf.pem"
    text.write_bytes(x509.load_der_x509_certificate(broken).public_bytes(
        serialization.Encoding.PEM))
    with pytest.raises(CertFileError, match="certificate 1 of 1 cannot be parsed"):
        read_certificates(text)


def test_missing_certificate_file(tmp_path: Path) -> None:
    with pytest.raises(CertFileError, match="cannot be read"):
        read_certificates(tmp_path / "nope.crt")


# ---- properties ----

@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(ALL), min_size=1, max_size=6), st.randoms())
def test_order_chain_always_links_from_the_leaf(picked: list[x509.Certificate],
                                                rnd: random.Random) -> None:
    rnd.shuffle(picked)
    ordered = order_chain(picked, CHAIN.leaf.key)
    assert CHAIN.root.cert not in ordered or ordered == [CHAIN.root.cert]
    if CHAIN.leaf.cert in picked:
        assert ordered[0] == CHAIN.leaf.cert
    # Whatever is present above the leaf without gaps comes next, in issuing order.
    expected = []
    for cert in CHAIN.certs:
        if cert not in picked:
            break
        expected.append(cert)
    assert ordered[:len(expected)] == expected
    assert chain_pem(ordered).count("-----BEGIN CERTIFICATE-----") == len(ordered)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_certificate_files_give_certificates_or_a_clear_error(
        data: st.DataObject) -> None:
    raw = bytearray(CHAIN.chain_pem.encode())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()):
            raw[at] ^= data.draw(st.integers(1, 255))
        else:
            del raw[at:at + data.draw(st.integers(1, 40))]
    try:
        loaded = parse_certificates(bytes(raw), "chain.crt")
    except CertFileError as exc:
        assert str(exc).startswith("chain.crt: ") and "Fix: " in str(exc)
    else:
        assert loaded.certificates
