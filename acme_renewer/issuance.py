"""ACME DNS-01 issuance for many domains at once, in phases (the `acme` library underneath).

order (parallel) -> present every TXT (batches per zone that fit the provider's limits; a
failed batch fails only its domains) -> one propagation wait (cut short before the first
pending authorization expires) -> answer + poll (parallel) -> order again, once, the domains
whose authorization expired meanwhile -> finalize -> clean up (always). A failure in one
domain is recorded on its `Issue` and never stops the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwa import ES256, RS256
from josepy.jwk import JWKEC, JWKRSA

from acme_renewer import authorizations, persist  # persist registers dns-persist-01
from acme_renewer.acme_client import BatchClient
from acme_renewer.acme_network import DeadlineReached, ResilientNetwork, rate_limited_until
from acme_renewer.authorizations import ANSWER_MARGIN, AuthorizationLost
from acme_renewer.challenge import ChallengeRecord, DnsProvider, Failure, failed_records, locate
from acme_renewer.propagation import PropagationTimeout, wait_for_propagation
from linkshortening.common.deadline import Deadline
from linkshortening.common.progress import OnWait
from linkshortening.stack.persist_record import CHALLENGE as PERSIST

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
    failed_names: list[str] = field(default_factory=list)  # failed authorizations (budget)
    rate_limited_until: dt.datetime | None = None  # the CA answered rateLimited (budget)
    # DNS-PERSIST-01 (acme_renewer.persist): the challenge wanted, those answered without a
    # DNS write, and why a name fell back to dns-01.
    challenge: str = "dns-01"
    persisted: list[messages.ChallengeBody] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lost: str | None = None  # an authorization expired mid-run: why (see `restart`)
    reordered: bool = False  # ordered a second time in this run (at most once)
    deferred: bool = False  # `error` is the run's deadline: the next run orders it again
    warnings: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[ChallengeRecord]:
        return [record for _, record in self.challenges]

    def restart(self) -> None:
        """Forget the order whose authorization expired, to order the names again."""
        self.warnings.append(f"{self.lost}; ordered again in the same run")
        self.order, self.challenges, self.persisted = None, [], []
        self.error, self.lost = None, None
        self.reordered = True


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
        self.deadline = Deadline.never()  # the run's; every request's timeout within it
        self.directory = client.ClientV2.get_directory(account.directory_url, self._network())
        self._local = threading.local()

    def _network(self, regr: messages.RegistrationResource | None = None) -> ResilientNetwork:
        verify: bool | str = self.account.ca_bundle or True
        alg = ES256 if isinstance(self.account.key, JWKEC) else RS256
        return ResilientNetwork(self.account.key, account=regr, alg=alg, user_agent=USER_AGENT,
                                verify_ssl=verify, server=self.account.directory_url,
                                deadline=lambda: self.deadline)

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


@dataclass
class _Run:
    """What the phases of one `issue_all` share."""

    session: AcmeSession
    pool: ThreadPoolExecutor
    provider: DnsProvider
    propagation_timeout: float
    propagation_interval: float
    deadline_seconds: float
    answer_margin: float
    deadline: Deadline  # the run's, less its margin for cleanup and the report
    say: Callable[[str], None]
    note: Callable[[list[ChallengeRecord]], None]
    waiting: OnWait | None = None
    presented: list[ChallengeRecord] = field(default_factory=list)  # to clean up, all rounds


def issue_all(session: AcmeSession, issues: Sequence[Issue], provider: DnsProvider,
              propagation_timeout: float = 120.0, propagation_interval: float = 2.0,
              workers: int = 8, deadline_seconds: float = 300.0,
              phase: Callable[[str], None] | None = None,
              journal: Callable[[list[ChallengeRecord]], None] | None = None,
              waiting: OnWait | None = None,
              answer_margin: float = ANSWER_MARGIN, deadline: Deadline | None = None) -> None:
    """Run every phase for every issue; results and errors land on the issues.

    `journal` is told the records before they are created and what is left once they are
    removed, so a run killed in between leaves a list the next run can clean up. `waiting`
    hears how the propagation wait goes. An issue whose authorization expired mid-run is
    ordered again once (one-hour authorizations of the tlsserver/shortlived profiles).
    No wait or request goes past `deadline`: what it cuts short is `deferred` on its issue;
    cleanup runs after it, in the margin the caller keeps.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        run = _Run(session, pool, provider, propagation_timeout, propagation_interval,
                   deadline_seconds, answer_margin, deadline or Deadline.never(),
                   phase or (lambda _: None), journal or (lambda _: None), waiting)
        try:
            _authorize(run, list(issues))
            lost = [i for i in issues if i.lost and not i.reordered]
            if lost:
                run.say("reorder")
                for issue in lost:
                    issue.restart()
                _authorize(run, lost)
            run.say("finalize")
            ready = [i for i in issues if i.error is None and i.order is not None]
            list(pool.map(lambda i: _guard(i, lambda: _finalize(session, i)), ready))
            _rounds(run, [i for i in ready if i.error is None],
                    lambda i: _issued(session, i), "the certificate")
        except Exception as exc:  # a shared phase failed: every domain in it failed with it
            for issue in issues:
                if issue.order is not None and issue.error is None:
                    issue.error = f"{exc.__class__.__name__}: {exc}"
                    issue.deferred = isinstance(exc, DeadlineReached)
        finally:
            _cleanup(run, issues)


def _authorize(run: _Run, batch: list[Issue]) -> None:
    """Order, present, wait for propagation, answer and poll until authorized: one round."""
    run.say("order")
    list(run.pool.map(lambda i: _guard(i, lambda: _order(run.session, i)), batch))
    ordered = [i for i in batch if i.error is None]
    records = [r for i in ordered for r in i.records]
    if records:
        run.say("present")
        run.presented.extend(records)
        run.note(list(run.presented))
        failures = run.provider.present(records)
        for issue, reason in _failed_issues(ordered, failures):
            issue.error = f"publishing its challenge record failed: {reason}"
        # Refused batches left nothing in DNS: nothing to clean up or journal.
        refused = {r for f in failures if f.refused for r in f.records}
        run.presented[:] = [r for r in run.presented if r not in refused]
        published = [r for i in ordered if i.error is None for r in i.records]
        if run.propagation_timeout > 0 and published:  # 0: the check is turned off
            run.say("propagate")
            _propagate(run, [i for i in ordered if i.error is None], published)
    run.say("validate")
    answering = [i for i in ordered if i.error is None]
    list(run.pool.map(lambda i: _guard(i, lambda: _answer(run.session, i)), answering))
    _rounds(run, [i for i in answering if i.error is None],
            lambda i: _authorized(run.session, i), "authorizations")


def _propagate(run: _Run, ordered: list[Issue], records: list[ChallengeRecord]) -> None:
    """One wait for every record, but never past the first pending authorization's expiry
    (less the margin): then answer anyway. An unanswered authorization is lost for sure; an
    answered one validates when the CA's resolvers see the record, as the primary serves it."""
    answer_by = authorizations.answer_deadline((i.order for i in ordered), run.answer_margin)
    budget = run.propagation_timeout
    if answer_by is not None:
        budget = min(budget, max(0.0, (answer_by - dt.datetime.now(dt.UTC)).total_seconds()))
    left = run.deadline.remaining()
    try:
        wait_for_propagation(records, min(budget, left), run.propagation_interval,
                             run.waiting)
    except PropagationTimeout as exc:
        missing = {r.identifier for r in exc.missing}
        if left < budget:  # the run's deadline cut the wait: answering now would fail them
            for issue in ordered:
                if missing & set(issue.names):
                    issue.error = f"DNS propagation not finished by the run's deadline ({exc})"
                    issue.deferred = True
            return
        if answer_by is None or budget >= run.propagation_timeout:
            raise
        for issue in ordered:
            if missing & set(issue.names):
                issue.warnings.append(
                    f"answered before every nameserver served the challenge record: the "
                    f"authorizations must be answered by {answer_by:%H:%M:%S}Z ({exc})")


def _cleanup(run: _Run, issues: Sequence[Issue]) -> None:
    """Remove every record this run published, in every round; what could not be removed
    stays in the journal for the next run."""
    if not run.presented:
        return
    run.say("cleanup")
    in_dns = list(run.presented)
    try:
        failures = run.provider.cleanup(in_dns)
    except Exception as exc:
        failures = [Failure.of(in_dns, exc)]
    left = failed_records(failures)
    run.note([r for r in in_dns if r in left])
    for issue, reason in _failed_issues(issues, failures):
        issue.cleanup_error = reason


def _failed_issues(issues: Sequence[Issue],
                   failures: Sequence[Failure]) -> Iterator[tuple[Issue, str]]:
    """Each issue with a record in a failed batch, with that batch's reason: only these
    issues are affected, the others' batches went out."""
    failed = failed_records(failures)
    for issue in issues:
        reason = next((failed[r] for r in issue.records if r in failed), None)
        if reason is not None:
            yield issue, reason


def _guard(issue: Issue, step: Callable[[], None]) -> None:
    try:
        step()
    except DeadlineReached as exc:
        issue.error, issue.deferred = str(exc), True
    except AuthorizationLost as exc:
        issue.lost = str(exc)
        issue.error = f"{exc}{' (after ordering again)' if issue.reordered else ''}"
    except errors.ValidationError as exc:
        issue.error = "; ".join(_authz_problem(a) for a in exc.failed_authzrs)
        issue.failed_names = [a.body.identifier.value for a in exc.failed_authzrs]
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
    try:
        issue.order = acme.new_order(csr, profile, replaces)
    except messages.Error as exc:  # the budget holds the account back until the CA's time
        issue.rate_limited_until = rate_limited_until(exc, acme.net)
        raise
    for authzr in issue.order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue  # reused authorization (or a persistent record the CA found at once)
        if issue.challenge == PERSIST:
            persisted, fallback = persist.choose(session, authzr)
            if persisted is not None:
                issue.persisted.append(persisted)
                continue
            issue.notes.append(fallback or "")
        challb = next((c for c in authzr.body.challenges
                       if isinstance(c.chall, challenges.DNS01)), None)
        if challb is None:
            raise ValueError(f"the CA offers no dns-01 challenge for {authzr.body.identifier}")
        identifier = authzr.body.identifier.value
        if authzr.body.wildcard:
            identifier = "*." + identifier
        value = challb.chall.validation(session.account.key)
        issue.challenges.append((challb, locate(identifier, value)))


def _rounds(run: _Run, pending: list[Issue], done: Callable[[Issue], bool],
            waiting_for: str) -> None:
    """Look at every pending issue once per round, all in parallel, until each is done or
    failed: one short pause per round for the whole batch, not a second per order. The
    phase's own timeout fails what is left; the run's deadline defers it."""
    phase = run.deadline.child(within=run.deadline_seconds)
    pause = 0.05
    while pending:
        finished = list(run.pool.map(lambda i: _guard_done(i, done), pending))
        pending = [i for i, ok in zip(pending, finished, strict=True) if not ok and not i.error]
        if not pending:
            return
        if not phase.allows(pause):
            deferred = phase.at >= run.deadline.at  # the run's deadline, not the phase's
            for issue in pending:
                issue.deferred = deferred
                issue.error = (f"the CA did not finish ({waiting_for}) before the run's deadline"
                               if deferred else f"timed out waiting for the CA ({waiting_for})")
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
    assert issue.order is not None
    acme = session.client()
    now = dt.datetime.now(dt.UTC)
    pending = {a.body.identifier.value: a for a in issue.order.authorizations}
    for challb, record in issue.challenges:
        authzr = pending.get(record.identifier.removeprefix("*."))
        late = authorizations.lost_before_answer(authzr, now) if authzr else None
        if late:
            raise AuthorizationLost(late)
        try:
            acme.answer_challenge(challb, challb.chall.response(session.account.key))
        except (messages.Error, errors.ClientError) as exc:
            lost = authorizations.lost_in_error(exc, record.identifier)
            if lost is None:
                raise
            raise AuthorizationLost(lost) from None
    for persisted in issue.persisted:
        acme.answer_challenge(persisted, persisted.chall.response())


def _poll(acme: BatchClient, authzr: messages.AuthorizationResource,
          ) -> messages.AuthorizationResource:
    if authzr.body.status == messages.STATUS_VALID:
        return authzr
    try:
        fresh: messages.AuthorizationResource = acme.poll(authzr)[0]
    except (messages.Error, errors.ClientError) as exc:
        lost = authorizations.lost_in_error(exc, authzr.body.identifier.value)
        if lost is None:
            raise
        raise AuthorizationLost(lost) from None
    lost = authorizations.lost_in_poll(fresh, dt.datetime.now(dt.UTC))
    if lost is not None:
        raise AuthorizationLost(lost)
    return fresh


def _authorized(session: AcmeSession, issue: Issue) -> bool:
    """One look at the order's authorizations: True when all are valid."""
    assert issue.order is not None
    acme = session.client()
    fresh = [_poll(acme, authzr) for authzr in issue.order.authorizations]
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
