"""ACME DNS-01 issuance for many domains at once, in phases (the `acme` library underneath).

order (parallel) -> present every TXT (one batch per zone) -> one propagation wait ->
answer + poll + finalize (parallel) -> clean up (always). A failure in one domain is recorded
on its `Issue` and never stops the others.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwa import ES256, RS256
from josepy.jwk import JWKEC, JWKRSA

from acme_renewer.acme_client import BatchClient
from acme_renewer.acme_network import ResilientNetwork
from acme_renewer.challenge import ChallengeRecord, DnsProvider, locate
from acme_renewer.propagation import wait_for_propagation

KeyType = Literal["ecdsa-p256", "rsa-2048"]
USER_AGENT = "lsctl (+https://github.com/lsctl)"


@dataclass(frozen=True)
class AcmeAccount:
    """Where to talk ACME and as whom."""

    directory_url: str
    key: JWKEC | JWKRSA = field(repr=False)
    ca_bundle: str | None = None  # extra trust anchor (the sandbox's); None: system store
    account_url: str | None = None
    email: str | None = None


@dataclass
class Issue:
    """One domain's way through the phases."""

    names: tuple[str, ...]
    key_type: KeyType = "ecdsa-p256"
    profile: str | None = None  # sent only when the directory offers it
    replaces: str | None = None  # RFC 9773 CertID of the certificate this one renews
    order: messages.OrderResource | None = None
    key_pem: bytes = field(default=b"", repr=False)
    challenges: list[tuple[messages.ChallengeBody, ChallengeRecord]] = field(default_factory=list)
    fullchain_pem: str | None = None
    error: str | None = None
    cleanup_error: str | None = None  # records left in DNS; the journal keeps them for later

    @property
    def records(self) -> list[ChallengeRecord]:
        return [record for _, record in self.challenges]


def generate_key(key_type: KeyType) -> bytes:
    """A fresh private key for each certificate, as PKCS#8 PEM."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key = (ec.generate_private_key(ec.SECP256R1()) if key_type == "ecdsa-p256"
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class AcmeSession:
    """An ACME client bound to one account; `client()` gives each worker thread its own."""

    def __init__(self, account: AcmeAccount) -> None:
        self.account = account
        self.directory = client.ClientV2.get_directory(account.directory_url, self._network())
        self._local = threading.local()

    def _network(self, regr: messages.RegistrationResource | None = None) -> ResilientNetwork:
        verify: bool | str = self.account.ca_bundle or True
        alg = ES256 if isinstance(self.account.key, JWKEC) else RS256
        return ResilientNetwork(self.account.key, account=regr, alg=alg, user_agent=USER_AGENT,
                                verify_ssl=verify)

    def register(self, agree_tos: bool, eab: tuple[str, str] | None = None) -> str:
        """Create (or find) the account; return its URL."""
        acme = client.ClientV2(self.directory, self._network())
        binding = None
        if eab is not None:
            binding = messages.ExternalAccountBinding.from_data(
                account_public_key=self.account.key.public_key(), kid=eab[0], hmac_key=eab[1],
                directory=self.directory)
        registration = messages.NewRegistration.from_data(
            email=self.account.email, terms_of_service_agreed=agree_tos,
            external_account_binding=binding)
        regr = acme.new_account(registration)
        return str(regr.uri)

    def client(self) -> BatchClient:
        """This thread's client: a ClientNetwork (nonces, session) is not safe to share."""
        if not self.account.account_url:
            raise ValueError("register the ACME account before ordering")
        cached: BatchClient | None = getattr(self._local, "client", None)
        if cached is None:
            regr = messages.RegistrationResource(uri=self.account.account_url,
                                                 body=messages.Registration())
            cached = BatchClient(self.directory, self._network(regr))
            self._local.client = cached
        return cached

    @property
    def offered_profiles(self) -> tuple[str, ...]:
        """The names in the directory's `meta.profiles` (none: the CA has no profiles)."""
        return tuple(getattr(self.directory.meta, "profiles", None) or {})

    def offered_profile(self, wanted: str | None) -> str | None:
        """`wanted` if the directory lists it among its profiles, else None."""
        return wanted if wanted and wanted in self.offered_profiles else None

    @property
    def has_ari(self) -> bool:
        try:
            return bool(self.directory["renewalInfo"])
        except KeyError:
            return False


def issue_all(session: AcmeSession, issues: Sequence[Issue], provider: DnsProvider,
              propagation_timeout: float = 120.0, propagation_interval: float = 2.0,
              workers: int = 8, deadline_seconds: float = 300.0,
              phase: Callable[[str], None] | None = None,
              journal: Callable[[list[ChallengeRecord]], None] | None = None) -> None:
    """Run every phase for every issue; results and errors land on the issues.

    `journal` is told the records before they are created and [] once they are removed, so a
    run killed in between leaves a list the next run can clean up.
    """
    say = phase or (lambda _: None)
    note = journal or (lambda _: None)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        say("order")
        list(pool.map(lambda i: _guard(i, lambda: _order(session, i)), issues))
        ordered = [i for i in issues if i.error is None]
        records = [r for i in ordered for r in i.records]
        try:
            if records:
                say("present")
                note(records)
                provider.present(records)
                if propagation_timeout > 0:  # 0: the stack turned the check off
                    say("propagate")
                    wait_for_propagation(records, propagation_timeout, propagation_interval)
            say("validate")
            deadline = time.monotonic() + deadline_seconds
            list(pool.map(lambda i: _guard(i, lambda: _answer(session, i)), ordered))
            _rounds(pool, [i for i in ordered if i.error is None],
                    lambda i: _authorized(session, i), deadline, "authorizations")
            say("finalize")
            ready = [i for i in ordered if i.error is None]
            list(pool.map(lambda i: _guard(i, lambda: _finalize(session, i)), ready))
            _rounds(pool, [i for i in ready if i.error is None],
                    lambda i: _issued(session, i), deadline, "the certificate")
        except Exception as exc:  # a shared phase failed: every domain in it failed with it
            for issue in ordered:
                issue.error = issue.error or f"{exc.__class__.__name__}: {exc}"
        finally:
            if records:
                say("cleanup")
                try:
                    provider.cleanup(records)
                    note([])
                except Exception as exc:  # kept in the journal: the next run removes them
                    for issue in ordered:
                        issue.cleanup_error = f"{exc.__class__.__name__}: {exc}"


def _guard(issue: Issue, step: Callable[[], None]) -> None:
    try:
        step()
    except errors.ValidationError as exc:
        issue.error = "; ".join(_authz_problem(a) for a in exc.failed_authzrs)
    except messages.Error as exc:
        issue.error = f"CA refused: {exc.detail or exc.typ}"
    except Exception as exc:
        issue.error = f"{exc.__class__.__name__}: {exc}"


def _authz_problem(authzr: messages.AuthorizationResource) -> str:
    detail = next((c.error.detail for c in authzr.body.challenges if c.error), "failed")
    return f"{authzr.body.identifier.value}: {detail}"


def _order(session: AcmeSession, issue: Issue) -> None:
    acme = session.client()
    issue.key_pem = generate_key(issue.key_type)
    csr = crypto_util.make_csr(issue.key_pem, list(issue.names))
    profile = session.offered_profile(issue.profile)
    replaces = issue.replaces if session.has_ari else None  # only CAs with ARI know it
    issue.order = acme.new_order(csr, profile, replaces)
    for authzr in issue.order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue  # reused authorization: nothing to prove
        challb = next((c for c in authzr.body.challenges
                       if isinstance(c.chall, challenges.DNS01)), None)
        if challb is None:
            raise ValueError(f"the CA offers no dns-01 challenge for {authzr.body.identifier}")
        identifier = authzr.body.identifier.value
        if authzr.body.wildcard:
            identifier = "*." + identifier
        value = challb.chall.validation(session.account.key)
        issue.challenges.append((challb, locate(identifier, value)))


def _rounds(pool: ThreadPoolExecutor, pending: list[Issue], done: Callable[[Issue], bool],
            deadline: float, waiting_for: str) -> None:
    """Look at every pending issue once per round, all in parallel, until each is done or
    failed: one short pause per round for the whole batch, not a second per order."""
    pause = 0.05
    while pending:
        finished = list(pool.map(lambda i: _guard_done(i, done), pending))
        pending = [i for i, ok in zip(pending, finished, strict=True) if not ok and not i.error]
        if not pending:
            return
        if time.monotonic() > deadline:
            for issue in pending:
                issue.error = f"timed out waiting for the CA ({waiting_for})"
            return
        time.sleep(pause)  # polling the CA, growing up to 2 s between rounds
        pause = min(pause * 1.5, 2.0)


def _guard_done(issue: Issue, done: Callable[[Issue], bool]) -> bool:
    result = False

    def step() -> None:
        nonlocal result
        result = done(issue)

    _guard(issue, step)
    return result


def _answer(session: AcmeSession, issue: Issue) -> None:
    acme = session.client()
    for challb, _ in issue.challenges:
        acme.answer_challenge(challb, challb.chall.response(session.account.key))


def _authorized(session: AcmeSession, issue: Issue) -> bool:
    """One look at the order's authorizations: True when all are valid."""
    assert issue.order is not None
    acme = session.client()
    fresh = [authzr if authzr.body.status == messages.STATUS_VALID else acme.poll(authzr)[0]
             for authzr in issue.order.authorizations]
    issue.order = issue.order.update(authorizations=fresh)
    failed = [a for a in fresh if a.body.status == messages.STATUS_INVALID]
    if failed:
        # A failed authorization is already invalid (RFC 8555 allows deactivating only valid
        # or pending ones); deactivate the order's others so none lingers at the CA, then
        # report the CA's reason for the failed ones.
        for authzr in fresh:
            if authzr.body.status in (messages.STATUS_PENDING, messages.STATUS_VALID):
                with contextlib.suppress(errors.Error, messages.Error):
                    acme.deactivate_authorization(authzr)
        raise errors.ValidationError(failed)
    return all(a.body.status == messages.STATUS_VALID for a in fresh)


def _finalize(session: AcmeSession, issue: Issue) -> None:
    assert issue.order is not None
    issue.order = session.client().begin_finalization(issue.order)


def _issued(session: AcmeSession, issue: Issue) -> bool:
    """One look at a finalized order: True once the certificate is downloaded."""
    assert issue.order is not None
    issue.order = session.client().order_status(issue.order)
    if issue.order.fullchain_pem:
        issue.fullchain_pem = issue.order.fullchain_pem
        return True
    return False
