"""One renewal run over a stack, as phases across all due domains.

clean up leftovers -> read what Twilio serves -> decide -> order, present, propagate,
validate, clean up (issuance) -> bundle and preflight -> upload -> wait for all validations
-> record state. A failure in one domain never stops the others; the report says what
happened to each.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar, cast

import requests
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from acme_renewer.acme_network import DeadlineReached
from acme_renewer.ari import cert_id, renewal_window
from acme_renewer.budget import Budget
from acme_renewer.budget_phase import RunBudget
from acme_renewer.challenge import ChallengeRecord, DnsProvider, Failure, by_zone, failed_records
from acme_renewer.decide import LiveCertificate, decide, decide_adopted
from acme_renewer.issuance import AcmeSession, Issue, KeyType, issue_all
from acme_renewer.profiles import check_offered, cnless_warning
from acme_renewer.state import RenewerState, StoredCertificate
from linkshortening.certs.preflight import certificate_names, check_tls_cert, is_ready
from linkshortening.certs.served import ServedCertificateError, fetch_served
from linkshortening.certs.tlscert import build_tls_cert
from linkshortening.common.deadline import Deadline
from linkshortening.common.progress import WaitProgress
from linkshortening.stack.model import DomainSpec, Stack
from linkshortening.twilio.errors import TwilioApiError

if TYPE_CHECKING:
    from acme_renewer.account import OpenedAccount
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.models import DomainCertificate

# adopted: a live certificate lsctl did not upload, not due by its own lifetime;
# external: `certificate: external`, uploaded with `lsctl cert upload`, only reported;
# deferred: due, but the CA's rate limits (budget.py) or the run's deadline leave it to a
# later run; not a failure.
Status = Literal["renewed", "reuploaded", "not_due", "adopted", "would_renew", "managed",
                 "external", "deferred", "failed"]
EXPIRY_WARN_DAYS = 30  # Twilio warns (30131) with 30 days left
Progress = Callable[[str, str | None, str], None]  # (phase, domain or None, message)
Waiting = Callable[[str, WaitProgress], None]  # (the wait: propagation or validation, status)
AccountOpener = Callable[[bool], "OpenedAccount"]  # (dry run) -> the account at the run's CA
R = TypeVar("R")
LISTED_LEFTOVERS = 20  # a dry run names this many leftover records, then counts the rest
# Kept back from the run's deadline for cleaning up challenge records, saving state and the
# report: this share of the run, at most RESERVE_MAX seconds.
RESERVE_SHARE = 0.2
RESERVE_MAX = 60.0
DEFERRED = "not finished before the run's deadline; the next run tries again"


@dataclass(frozen=True)
class RenewOptions:
    force: bool = False
    dry_run: bool = False
    validation_timeout: float = 600.0  # Twilio says validation takes up to five minutes
    validation_interval: float = 5.0
    workers: int = 8
    # `--deadline` or the Lambda's remaining time: every phase, request and wait ends by it
    deadline: Deadline = field(default_factory=Deadline.never)

    def work_deadline(self) -> Deadline:
        """The deadline for the work itself, less the reserve for cleanup and the report."""
        left = self.deadline.remaining()
        return self.deadline.child(min(RESERVE_MAX, left * RESERVE_SHARE))


@dataclass
class Outcome:
    """What happened to one domain in this run."""

    fqdn: str
    status: Status
    detail: str
    expires: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)
    deferred_until: dt.datetime | None = None  # deferred: the earliest next try


@dataclass
class Report:
    stack: str
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)  # about the run: accounts, cleanup
    budget: Budget | None = None  # the CA's new-order budget, when anything was to be ordered

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


@dataclass
class _Work:
    """A domain on its way: decision, issuance, bundle, upload."""

    spec: DomainSpec
    outcome: Outcome
    live: DomainCertificate | None = None
    stored: StoredCertificate | None = None
    issue: Issue | None = None
    tls_cert: str | None = None
    not_after: dt.datetime | None = None
    reupload: bool = False
    adoptable: LiveCertificate | None = None  # what Twilio serves, when lsctl did not upload it
    ari_time: dt.datetime | None = None  # ARI's chosen renewal time, if the CA gave one

    def live_differs(self, stored: StoredCertificate) -> bool:
        """Twilio serves no certificate, or one that is not the stored one."""
        if self.live is None or self.live.date_expires is None:
            return True
        return self.live.date_expires != dt.datetime.fromisoformat(stored.not_after)

    def serves_foreign(self, now: dt.datetime) -> bool:
        """Twilio serves a certificate lsctl did not upload: nothing stored, or a stored one
        that is not live and not newer than the live one (a newer stored one that did not
        take is uploaded again instead)."""
        if self.live is None or self.live.date_expires is None:
            return False
        if self.stored is None:
            return True
        stored_after = dt.datetime.fromisoformat(self.stored.not_after)
        newer = now < stored_after and self.live.date_expires < stored_after
        return self.live_differs(self.stored) and not newer


def renew_stack(stack: Stack, specs: Sequence[DomainSpec], state: RenewerState,
                api: LinkShorteningApi, dns: DnsProvider,
                open_account: AccountOpener, options: RenewOptions,
                progress: Progress | None = None,
                waiting: Waiting | None = None) -> Report:
    """Run every phase for `specs`; never raises for one domain's failure.

    A dry run only reads: no lock taken, no account registered, no DNS or state written,
    nothing uploaded; its report says what the real run would clean up and register.
    `waiting` hears how the two long waits (propagation, Twilio's validation) go."""
    say = progress or (lambda _p, _d, _m: None)
    now = dt.datetime.now(dt.UTC)
    notes: list[str] = []

    def note(phase: str, message: str) -> None:
        notes.append(message)
        say(phase, None, message)

    # The lock file (or lock secret) is a write: a dry run reads without it.
    with contextlib.nullcontext() if options.dry_run else state.backend.lock():
        kept = _leftovers(state, dns, options.dry_run, note)
        work = [_Work(s, Outcome(s.fqdn, "not_due", "")) for s in specs]
        say("twilio", None, "reading the certificates Twilio serves")
        _read_live(api, work, options.workers)
        for item in (w for w in work if w.spec.certificate == "managed"):
            _managed(api, item, options.dry_run)
        for item in (w for w in work if w.spec.certificate == "external"):
            _external(item, now)
        acme_work = [w for w in work if w.spec.certificate == "acme"
                     and w.outcome.status != "failed"]
        _each(acme_work, lambda w: setattr(w, "stored", state.certificate(w.spec.fqdn)),
              options.workers)  # one state read each: in parallel, bounded
        foreign = [w for w in acme_work if w.serves_foreign(now)]
        if foreign:
            say("twilio", None, f"reading {len(foreign)} certificate(s) lsctl did not upload "
                                "(port 443)")
            _read_served(foreign, options.workers)
        session, unreachable = (_open(open_account, options.dry_run, note) if acme_work
                                else (None, None))
        work_by = options.work_deadline()
        if session is not None:
            session.deadline = work_by  # every ACME request's timeout within what is left
            check_offered(stack, session)  # a profile the CA lacks: one error for the run
        if unreachable:  # judged by the lifetime rule alone; only due domains need the CA
            say("acme", None, unreachable)
        # State reads and ARI requests, one per domain: in parallel, bounded by `workers`.
        decided = _each(acme_work, lambda w: _decide_by(stack, state, session, w, now, options),
                        options.workers)
        due = [w for w, is_due in zip(acme_work, decided, strict=True) if is_due]
        budget = RunBudget(stack.acme, state)  # rate budget: the rest are deferred
        due = budget.admit(due, session, now, note)
        if options.dry_run:
            for item in due:
                item.outcome.status = "would_renew"
            return Report(stack.name, [w.outcome for w in work], notes, budget.budget)
        issuing = [w for w in due if not w.reupload]
        if issuing and session is None:
            for item in issuing:
                _fail(item, unreachable or "no ACME session")
        elif issuing and session is not None:
            _issue(stack, state, session, dns, issuing, options, say, kept, waiting, work_by)
        budget.record(issuing, note)  # orders, failures, rateLimited: into the ledger
        due = [w for w in due if w.outcome.status != "deferred"]
        _bundle(stack, state, due, dt.datetime.now(dt.UTC))  # after issuance: new notBefore
        _upload_and_wait(api, [w for w in due if w.tls_cert], options, say, waiting)
        for item in work:
            if item.outcome.status == "failed":
                say("failed", item.spec.fqdn, item.outcome.detail)
    return Report(stack.name, [w.outcome for w in work], notes, budget.budget)


def _leftovers(state: RenewerState, dns: DnsProvider, dry_run: bool,
               note: Callable[[str, str], None]) -> list[ChallengeRecord]:
    """Remove the challenge records an interrupted run journalled; a dry run lists them.

    Returns those still journalled. Leftovers that cannot be removed (a zone's server down,
    a key no longer allowed there) never stop the run: they stay in the journal, are
    reported, and the next run tries again."""
    leftovers = state.pending_records()
    if not leftovers:
        return []
    if dry_run:
        for record in leftovers[:LISTED_LEFTOVERS]:
            note("cleanup", f"would remove the challenge record {record.name} TXT "
                            f"\"{record.value}\" left by an interrupted run")
        if len(leftovers) > LISTED_LEFTOVERS:
            note("cleanup", f"... and {len(leftovers) - LISTED_LEFTOVERS} more challenge "
                            f"record(s) left by an interrupted run, in zone(s) "
                            f"{', '.join(by_zone(leftovers[LISTED_LEFTOVERS:]))}")
        return leftovers
    try:
        failures = dns.cleanup(leftovers)
    except Exception as exc:  # e.g. a provider that cannot be built for the zone
        failures = [Failure.of(leftovers, exc)]
    failed = failed_records(failures)
    kept = [r for r in leftovers if r in failed]
    if len(kept) < len(leftovers):
        state.save_pending_records(kept)
        note("cleanup", f"removed {len(leftovers) - len(kept)} challenge record(s) left by an "
                        "interrupted run")
    by_reason: dict[str, list[ChallengeRecord]] = {}
    for record in kept:
        by_reason.setdefault(failed[record], []).append(record)
    for reason, records in by_reason.items():
        note("cleanup", f"could not remove {len(records)} challenge record(s) left by an "
                        f"interrupted run, in zone(s) {', '.join(by_zone(records))}: {reason}; "
                        "they stay in the journal (pending-challenges.json in the state store) "
                        "and the next run tries again")
    return kept


def _open(open_account: AccountOpener, dry_run: bool, note: Callable[[str, str], None],
          ) -> tuple[AcmeSession | None, str | None]:
    """The ACME session, or why the CA could not be reached (a configuration error raises).

    None without a reason: a dry run with no account at this CA yet."""
    try:
        opened = open_account(dry_run)
    except (requests.RequestException, acme_errors.Error) as exc:
        return None, f"the ACME server could not be used: {exc}"
    if opened.note:
        note("acme", opened.note)
    return opened.session, None


def _fail(item: _Work, detail: str) -> None:
    item.outcome.status = "failed"
    item.outcome.detail = detail


def _each(items: Sequence[_Work], step: Callable[[_Work], R], workers: int) -> list[R]:
    """`step` on every item, at most `workers` at a time; results in the items' order."""
    if not items:
        return []
    with ThreadPoolExecutor(max(1, min(workers, len(items)))) as pool:
        return list(pool.map(step, items))


def _read_live(api: LinkShorteningApi, work: list[_Work], workers: int) -> None:
    def fetch(item: _Work) -> None:
        try:
            item.live = api.fetch_certificate(item.spec.domain_sid)
        except TwilioApiError as exc:
            if exc.no_certificate:  # 404 or 30120: none uploaded yet, the first is due
                return
            _fail(item, f"cannot read the certificate from Twilio: {exc}")

    _each(work, fetch, workers)


def _managed(api: LinkShorteningApi, item: _Work, dry_run: bool) -> None:
    """Twilio-managed domains: request once, then only report what Twilio has."""
    live = item.live
    item.outcome.status = "managed"
    item.outcome.expires = live.date_expires if live else None
    if live is not None and (live.managed or live.requesting):
        item.outcome.detail = "Twilio renews it" if live.managed else "Twilio is requesting it"
        return
    if dry_run:
        item.outcome.detail = "would request a Twilio-managed certificate"
        return
    try:
        request = api.request_managed_cert(item.spec.domain_sid)
    except TwilioApiError as exc:
        _fail(item, f"requesting a managed certificate failed: {exc}")
        return
    item.outcome.detail = ("requested a Twilio-managed certificate"
                           + (" (requesting)" if request.requesting else ""))


def _external(item: _Work, now: dt.datetime) -> None:
    """`certificate: external`: never ordered; report what Twilio serves and its days left."""
    live = item.live.date_expires if item.live else None
    upload = f"lsctl cert upload --domain {item.spec.fqdn} --cert FILE --key FILE"
    item.outcome.status, item.outcome.expires = "external", live
    if live is None:
        item.outcome.detail = "uploaded outside lsctl; Twilio serves no certificate"
        item.outcome.warnings.append(f"no certificate on Twilio: upload one with {upload}")
        return
    days = (live - now).total_seconds() / 86400
    item.outcome.detail = (f"uploaded outside lsctl; {days:.0f} days left" if days > 0
                           else f"uploaded outside lsctl; expired {live:%Y-%m-%d}")
    if days <= EXPIRY_WARN_DAYS:
        item.outcome.warnings.append(f"expires {live:%Y-%m-%d}: upload a renewed certificate "
                                     f"with {upload}")


def _read_served(items: list[_Work], workers: int) -> None:
    """What a client gets on port 443, for the certificates lsctl did not upload: their
    notBefore and names, which Twilio's API does not give. It is that certificate only if
    it expires when Twilio says the live one does."""
    def read(item: _Work) -> None:
        assert item.live is not None and item.live.date_expires is not None
        expires = item.live.date_expires
        uploaded = item.live.date_updated or item.live.date_created
        try:
            cert, where = fetch_served(item.spec.fqdn)
        except ServedCertificateError as exc:
            item.adoptable = LiveCertificate(expires, None, None, uploaded, str(exc))
            return
        if abs((cert.not_valid_after_utc - expires).total_seconds()) > 1:
            item.adoptable = LiveCertificate(
                expires, None, None, uploaded, f"{where} serves a certificate expiring "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z, not Twilio's")
            return
        item.adoptable = LiveCertificate(expires, cert.not_valid_before_utc,
                                         tuple(certificate_names(cert)), uploaded)

    _each(items, read, workers)


def _decide_by(stack: Stack, state: RenewerState, session: AcmeSession | None, item: _Work,
               now: dt.datetime, options: RenewOptions) -> bool:
    """`_decide`, but a domain the run's deadline leaves undecided is deferred."""
    try:
        return _decide(stack, state, session, item, now, options)
    except DeadlineReached:
        item.outcome.status, item.outcome.detail = "deferred", f"undecided: {DEFERRED}"
        return False


def _decide(stack: Stack, state: RenewerState, session: AcmeSession | None, item: _Work,
            now: dt.datetime, options: RenewOptions) -> bool:
    spec = item.spec
    live_expires = item.live.date_expires if item.live else None
    if item.adoptable is not None:
        adopted = decide_adopted(spec.names, item.adoptable, now, stack.acme.renew_fraction,
                                 options.force)
        item.outcome.detail, item.outcome.expires = adopted.reason, live_expires
        if adopted.warning:
            item.outcome.warnings.append(adopted.warning)
        if adopted.adopted and not adopted.due:
            item.outcome.status = "adopted"
        return adopted.due
    ari_time = None
    if session is not None and session.has_ari and item.stored and not options.force:
        ari_time = _ari_time(state, session, item.stored, spec.fqdn, now, options.dry_run)
    item.ari_time = ari_time
    decision = decide(spec.names, stack.acme.key_type, item.stored, now, live_expires,
                      stack.acme.renew_fraction, ari_time, options.force, stack.acme.profile)
    if decision.warning:
        item.outcome.warnings.append(decision.warning)
    item.outcome.detail = decision.reason
    item.outcome.expires = live_expires
    stored = item.stored
    if not decision.due and stored is not None and item.live_differs(stored):
        # The stored certificate is good but Twilio does not serve it (an upload failed or
        # was undone): upload it again instead of asking the CA for another.
        stored_after = dt.datetime.fromisoformat(stored.not_after)
        if stored_after > now and (live_expires is None or stored_after > live_expires):
            item.reupload = True
            item.outcome.detail = "the stored certificate is not live on Twilio"
            return True
    return decision.due


def _ari_time(state: RenewerState, session: AcmeSession, stored: StoredCertificate, fqdn: str,
              now: dt.datetime, dry_run: bool) -> dt.datetime | None:
    """ARI's chosen time, asking the CA only once its last Retry-After has passed."""
    cached = state.ari(fqdn)
    if cached is not None and cached[1] > now:
        return cached[0]
    window = renewal_window(session.client(), stored.fullchain_pem.encode())
    if not dry_run:
        state.save_ari(fqdn, window.renew_at, window.next_check)
    return window.renew_at


def _issue(stack: Stack, state: RenewerState, session: AcmeSession, dns: DnsProvider,
           items: list[_Work], options: RenewOptions, say: Progress,
           leftovers: list[ChallengeRecord], waiting: Waiting | None = None,
           deadline: Deadline | None = None) -> None:
    for item in items:
        replaces = None  # ARI's `replaces` names lsctl's own certificate, never an adopted one
        if item.stored is not None and item.adoptable is None and session.has_ari:
            replaces = cert_id(item.stored.fullchain_pem.encode())
        item.issue = Issue(item.spec.names, cast(KeyType, stack.acme.key_type),
                           stack.acme.profile, replaces, challenge=item.spec.challenge)
    issues = [i.issue for i in items if i.issue is not None]
    timeout = stack.acme.propagation_timeout if stack.acme.propagation_check else 0
    issue_all(session, issues, dns, timeout,
              stack.acme.propagation_interval, workers=options.workers,
              phase=lambda p: say(p, None, f"{len(issues)} certificate(s)"),
              # the journal keeps the leftovers not yet removed besides this run's records
              journal=lambda records: state.save_pending_records([*leftovers, *records]),
              waiting=(lambda w: waiting("propagation", w)) if waiting else None,
              deadline=deadline)
    for item in items:
        assert item.issue is not None
        item.outcome.warnings += item.issue.notes  # dns-persist-01 fell back to dns-01
        item.outcome.warnings.extend(item.issue.warnings)  # answered early, ordered again
        if item.issue.cleanup_error:
            item.outcome.warnings.append(f"challenge records were not removed "
                                         f"({item.issue.cleanup_error}); the next run "
                                         "removes them")
        if item.issue.error and item.issue.deferred:
            item.outcome.status = "deferred"
            item.outcome.detail = f"issuance {DEFERRED} ({item.issue.error})"
        elif item.issue.error:
            _fail(item, f"issuance failed: {item.issue.error}")


def _bundle(stack: Stack, state: RenewerState, items: list[_Work], now: dt.datetime) -> None:
    """TlsCert for each domain, refused here if Twilio would refuse it."""
    for item in items:
        if item.outcome.status == "failed":
            continue
        if item.reupload:
            assert item.stored is not None
            fullchain, key_pem = item.stored.fullchain_pem, state.key_pem(item.spec.fqdn)
            if key_pem is None:
                _fail(item, "the stored certificate's key is missing; rerun with --force")
                continue
        else:
            assert item.issue is not None and item.issue.fullchain_pem is not None
            fullchain, key_pem = item.issue.fullchain_pem, item.issue.key_pem
        certs = x509.load_pem_x509_certificates(fullchain.encode())
        tls_cert = build_tls_cert(certs, load_pem_private_key(key_pem, password=None))
        problems = [p for p in check_tls_cert(tls_cert, item.spec.fqdn, now)
                    if p.severity == "error"]
        if not is_ready(problems):
            _fail(item, "preflight refused the bundle: " + "; ".join(
                f"{p.code or '-'} {p.message}" for p in problems))
            continue
        item.tls_cert = tls_cert
        item.not_after = certs[0].not_valid_after_utc
        if not item.reupload:
            profile = item.issue.profile if item.issue else None
            first = cnless_warning(stack, item.spec.fqdn, fullchain, profile, item.stored)
            if first:
                item.outcome.warnings.append(first)
            # Stored before upload: a failed upload is retried next run without a new order.
            state.save_certificate(item.spec.fqdn, StoredCertificate(
                item.spec.names, item.issue.key_type if item.issue else "",
                fullchain, certs[0].not_valid_before_utc.isoformat(),
                item.not_after.isoformat(), profile or ""), key_pem)


def _upload_and_wait(api: LinkShorteningApi, items: list[_Work], options: RenewOptions,
                     say: Progress, waiting: Waiting | None = None) -> None:
    if not items:
        return
    say("upload", None, f"uploading {len(items)} certificate(s) to Twilio")

    # 30133 ("try again in a few minutes") is tried again until the API's deadline while
    # the other domains' uploads go on.
    outcomes = api.upload_certificates(
        {i.spec.domain_sid: i.tls_cert for i in items if i.tls_cert is not None},
        workers=options.workers)
    for item in items:
        outcome = outcomes[item.spec.domain_sid]
        if isinstance(outcome, TwilioApiError):
            _fail(item, f"upload refused: {outcome}")
    uploaded = [i for i in items if i.outcome.status != "failed"]
    if not uploaded:
        return
    say("validation", None, f"waiting for Twilio to validate {len(uploaded)} certificate(s)")
    left = options.work_deadline().remaining()
    results = api.wait_for_validation([i.spec.domain_sid for i in uploaded],
                                      timeout=min(options.validation_timeout, left),
                                      poll_interval=options.validation_interval,
                                      progress=(lambda w: waiting("validation", w))
                                      if waiting else None)
    by_sid = {r.domain_sid: r for r in results}
    for item in uploaded:
        result = by_sid[item.spec.domain_sid]
        if result.state == "timed_out" and left < options.validation_timeout:
            # Uploaded and stored: the next run sees whether Twilio validated it.
            item.outcome.status = "deferred"
            item.outcome.detail = f"Twilio's validation {DEFERRED} ({result.state})"
            continue
        if result.state != "validated":
            _fail(item, f"Twilio validation {result.state}: {result.detail}")
            continue
        live = result.certificate.date_expires if result.certificate else None
        item.outcome.status = "reuploaded" if item.reupload else "renewed"
        item.outcome.expires = item.not_after
        if live != item.not_after:
            item.outcome.warnings.append(
                f"Twilio reports expiry {live}, the uploaded certificate says {item.not_after}")
