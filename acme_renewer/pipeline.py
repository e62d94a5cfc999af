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
from typing import TYPE_CHECKING, Literal, cast

import requests
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from acme_renewer.ari import cert_id, renewal_window
from acme_renewer.challenge import DnsProvider
from acme_renewer.decide import decide
from acme_renewer.issuance import AcmeSession, Issue, KeyType, issue_all
from acme_renewer.state import RenewerState, StoredCertificate
from linkshortening.certs.preflight import check_tls_cert, is_ready
from linkshortening.certs.tlscert import build_tls_cert
from linkshortening.stack.model import DomainSpec, Stack
from linkshortening.twilio.errors import TwilioApiError

if TYPE_CHECKING:
    from acme_renewer.account import OpenedAccount
    from linkshortening.twilio.api import LinkShorteningApi
    from linkshortening.twilio.models import DomainCertificate

Status = Literal["renewed", "reuploaded", "not_due", "would_renew", "managed", "failed"]
Progress = Callable[[str, str | None, str], None]  # (phase, domain or None, message)
AccountOpener = Callable[[bool], "OpenedAccount"]  # (dry run) -> the account at the run's CA


@dataclass(frozen=True)
class RenewOptions:
    force: bool = False
    dry_run: bool = False
    validation_timeout: float = 600.0  # Twilio says validation takes up to five minutes
    validation_interval: float = 5.0
    workers: int = 8


@dataclass
class Outcome:
    """What happened to one domain in this run."""

    fqdn: str
    status: Status
    detail: str
    expires: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Report:
    stack: str
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)  # about the run: accounts, cleanup

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

    def live_differs(self, stored: StoredCertificate) -> bool:
        """Twilio serves no certificate, or one that is not the stored one."""
        if self.live is None or self.live.date_expires is None:
            return True
        return self.live.date_expires != dt.datetime.fromisoformat(stored.not_after)


def renew_stack(stack: Stack, specs: Sequence[DomainSpec], state: RenewerState,
                api: LinkShorteningApi, dns: DnsProvider,
                open_account: AccountOpener, options: RenewOptions,
                progress: Progress | None = None) -> Report:
    """Run every phase for `specs`; never raises for one domain's failure.

    A dry run only reads: no lock taken, no account registered, no DNS or state written,
    nothing uploaded; its report says what the real run would clean up and register."""
    say = progress or (lambda _p, _d, _m: None)
    now = dt.datetime.now(dt.UTC)
    notes: list[str] = []

    def note(phase: str, message: str) -> None:
        notes.append(message)
        say(phase, None, message)

    # The lock file (or lock secret) is a write: a dry run reads without it.
    with contextlib.nullcontext() if options.dry_run else state.backend.lock():
        _leftovers(state, dns, options.dry_run, note)
        work = [_Work(s, Outcome(s.fqdn, "not_due", "")) for s in specs]
        say("twilio", None, "reading the certificates Twilio serves")
        _read_live(api, work, options.workers)
        for item in (w for w in work if w.spec.certificate == "managed"):
            _managed(api, item, options.dry_run)
        acme_work = [w for w in work if w.spec.certificate == "acme"
                     and w.outcome.status != "failed"]
        session, unreachable = (_open(open_account, options.dry_run, note) if acme_work
                                else (None, None))
        if unreachable:  # judged by the lifetime rule alone; only due domains need the CA
            say("acme", None, unreachable)
        due = [w for w in acme_work if _decide(stack, state, session, w, now, options)]
        if options.dry_run:
            for item in due:
                item.outcome.status = "would_renew"
            return Report(stack.name, [w.outcome for w in work], notes)
        issuing = [w for w in due if not w.reupload]
        if issuing and session is None:
            for item in issuing:
                _fail(item, unreachable or "no ACME session")
        elif issuing and session is not None:
            _issue(stack, state, session, dns, issuing, options, say)
        _bundle(state, due, dt.datetime.now(dt.UTC))  # after issuance: new notBefore
        _upload_and_wait(api, [w for w in due if w.tls_cert], options, say)
        for item in work:
            if item.outcome.status == "failed":
                say("failed", item.spec.fqdn, item.outcome.detail)
    return Report(stack.name, [w.outcome for w in work], notes)


def _leftovers(state: RenewerState, dns: DnsProvider, dry_run: bool,
               note: Callable[[str, str], None]) -> None:
    """Remove the challenge records an interrupted run journalled; a dry run lists them."""
    leftovers = state.pending_records()
    if not leftovers:
        return
    if dry_run:
        for record in leftovers:
            note("cleanup", f"would remove the challenge record {record.name} TXT "
                            f"\"{record.value}\" left by an interrupted run")
        return
    dns.cleanup(leftovers)
    state.save_pending_records([])
    note("cleanup", f"removed {len(leftovers)} challenge record(s) left by an interrupted run")


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


def _read_live(api: LinkShorteningApi, work: list[_Work], workers: int) -> None:
    def fetch(item: _Work) -> None:
        try:
            item.live = api.fetch_certificate(item.spec.domain_sid)
        except TwilioApiError as exc:
            if exc.no_certificate:  # 404 or 30120: none uploaded yet, the first is due
                return
            _fail(item, f"cannot read the certificate from Twilio: {exc}")

    with ThreadPoolExecutor(max(1, min(workers, len(work)))) as pool:
        list(pool.map(fetch, work))


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


def _decide(stack: Stack, state: RenewerState, session: AcmeSession | None, item: _Work,
            now: dt.datetime, options: RenewOptions) -> bool:
    spec = item.spec
    item.stored = state.certificate(spec.fqdn)
    live_expires = item.live.date_expires if item.live else None
    ari_time = None
    if session is not None and session.has_ari and item.stored and not options.force:
        ari_time = _ari_time(state, session, item.stored, spec.fqdn, now, options.dry_run)
    decision = decide(spec.names, stack.acme.key_type, item.stored, now, live_expires,
                      stack.acme.renew_fraction, ari_time, options.force)
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
           items: list[_Work], options: RenewOptions, say: Progress) -> None:
    for item in items:
        replaces = None
        if item.stored is not None and session.has_ari:
            replaces = cert_id(item.stored.fullchain_pem.encode())
        item.issue = Issue(item.spec.names, cast(KeyType, stack.acme.key_type),
                           stack.acme.profile, replaces, challenge=item.spec.challenge)
    issues = [i.issue for i in items if i.issue is not None]
    timeout = stack.acme.propagation_timeout if stack.acme.propagation_check else 0
    issue_all(session, issues, dns, timeout,
              stack.acme.propagation_interval, workers=options.workers,
              phase=lambda p: say(p, None, f"{len(issues)} certificate(s)"),
              journal=state.save_pending_records)
    for item in items:
        assert item.issue is not None
        item.outcome.warnings += item.issue.notes  # dns-persist-01 fell back to dns-01
        if item.issue.cleanup_error:
            item.outcome.warnings.append(f"challenge records were not removed "
                                         f"({item.issue.cleanup_error}); the next run "
                                         "removes them")
        if item.issue.error:
            _fail(item, f"issuance failed: {item.issue.error}")


def _bundle(state: RenewerState, items: list[_Work], now: dt.datetime) -> None:
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
            # Stored before upload: a failed upload is retried next run without a new order.
            state.save_certificate(item.spec.fqdn, StoredCertificate(
                item.spec.names, item.issue.key_type if item.issue else "",
                fullchain, certs[0].not_valid_before_utc.isoformat(),
                item.not_after.isoformat()), key_pem)


def _upload_and_wait(api: LinkShorteningApi, items: list[_Work], options: RenewOptions,
                     say: Progress) -> None:
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
    results = api.wait_for_validation([i.spec.domain_sid for i in uploaded],
                                      timeout=options.validation_timeout,
                                      poll_interval=options.validation_interval)
    by_sid = {r.domain_sid: r for r in results}
    for item in uploaded:
        result = by_sid[item.spec.domain_sid]
        if result.state != "validated":
            _fail(item, f"Twilio validation {result.state}: {result.detail}")
            continue
        live = result.certificate.date_expires if result.certificate else None
        item.outcome.status = "reuploaded" if item.reupload else "renewed"
        item.outcome.expires = item.not_after
        if live != item.not_after:
            item.outcome.warnings.append(
                f"Twilio reports expiry {live}, the uploaded certificate says {item.not_after}")
