"""lsctl's Link Shortening client (on the official SDK) against the sandbox's Twilio emulator."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from linkshortening.common.errors import is_user_error
from linkshortening.common.retry import RetryPolicy
from linkshortening.common.secrets import MissingSecret
from linkshortening.twilio.api import LinkShorteningApi, TwilioSettings
from linkshortening.twilio.errors import TwilioApiError, TwilioSetupError, parse_retry_after
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain, self_signed
from tests.conftest import ROOT, lsctl_argv, new_domain, new_messaging_service, subprocess_env

pytestmark = pytest.mark.usefixtures("twilio_env", "test_ca_trusted")


class Exchanges:
    """Every raw HTTP exchange the client makes, with when its response arrived."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, requests.Response]] = []

    def __call__(self, response: requests.Response) -> None:
        self.seen.append((time.monotonic(), response))

    @property
    def statuses(self) -> list[int]:
        return [response.status_code for _, response in self.seen]


@pytest.fixture
def exchanges() -> Exchanges:
    return Exchanges()


@pytest.fixture
def api(exchanges: Exchanges) -> LinkShorteningApi:
    return LinkShorteningApi.from_env(response_hooks=[exchanges])


def test_every_method_against_the_emulator(api: LinkShorteningApi,
                                           emulator: EmulatorControl) -> None:
    sid, name = new_domain(emulator)
    chain = make_chain((name,))
    uploaded = api.upload_certificate(sid, chain.tls_cert)
    assert uploaded.cert_in_validation is not None and uploaded.cert_in_validation.in_progress
    assert uploaded.cert_in_validation.date_expires == chain.leaf.cert.not_valid_after_utc
    assert uploaded.hostname == name and not uploaded.validated
    [result] = api.wait_for_validation([sid], timeout=10, poll_interval=0.05)
    assert result.ok and result.certificate is not None
    assert result.certificate.date_expires == chain.leaf.cert.not_valid_after_utc
    v1 = api.fetch_certificate(sid, api_version=1)
    v2 = api.fetch_certificate(sid)
    assert v1.validated and (v1.managed, v2.managed, v2.requesting) == (None, False, False)
    assert v1.certificate_sid == v2.certificate_sid == uploaded.certificate_sid

    config = api.update_config(sid, fallback_url="https://e.example/expired",
                               callback_url="https://hooks.example/clicks",
                               continue_on_failure=False, disable_https=True)
    assert (config.fallback_url, config.callback_url) == ("https://e.example/expired",
                                                          "https://hooks.example/clicks")
    assert (config.continue_on_failure, config.disable_https) == (False, True)
    assert api.update_config(sid, disable_https=False).callback_url == config.callback_url
    fetched = api.fetch_config(sid)
    assert (fetched.fallback_url, fetched.disable_https) == ("https://e.example/expired", False)

    service = new_messaging_service()
    association = api.associate_messaging_service(sid, service)
    assert (association.domain_sid, association.messaging_service_sid) == (sid, service)
    assert api.fetch_messaging_service_domain(service).domain_sid == sid
    service_config = api.fetch_messaging_service_config(service)
    assert (service_config.domain_sid, service_config.fallback_url) == (
        sid, "https://e.example/expired")
    api.dissociate_messaging_service(sid, service)
    with pytest.raises(TwilioApiError) as gone:
        api.fetch_messaging_service_domain(service)
    assert (gone.value.status, gone.value.code) == (404, 20404)

    dns = api.validate_dns(sid)
    assert dns.domain_sid == sid and dns.is_valid is False and dns.reason

    api.delete_certificate(sid)
    with pytest.raises(TwilioApiError, match="20404"):
        api.fetch_certificate(sid)
    managed = api.request_managed_cert(sid)
    assert managed.managed is True and managed.domain_sid == sid


def test_api_error_carries_code_status_message_and_more_info(api: LinkShorteningApi,
                                                            emulator: EmulatorControl) -> None:
    sid, name = new_domain(emulator)
    cert = self_signed((name,))
    with pytest.raises(TwilioApiError) as refused:
        api.upload_certificate(sid, cert.cert_pem.strip() + "\n" + cert.key_pem.strip())
    error = refused.value
    assert (error.code, error.status) == (30129, 400)
    assert error.message == "Certificate is self signed"
    assert error.more_info == "https://www.twilio.com/docs/errors/30129"
    assert not error.retryable and is_user_error(error)
    assert "Twilio error 30129 (HTTP 400)" in str(error) and sid in str(error)


@pytest.mark.parametrize(("tls_cert", "code"), [
    ("", 30116), ("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----", 30116)])
def test_validation_errors_are_not_retried(api: LinkShorteningApi, emulator: EmulatorControl,
                                           exchanges: Exchanges, tls_cert: str,
                                           code: int) -> None:
    sid, _ = new_domain(emulator)
    with pytest.raises(TwilioApiError) as refused:
        api.upload_certificate(sid, tls_cert)
    assert refused.value.code in (code, 30117)
    assert exchanges.statuses == [400]


def test_other_4xx_are_not_retried(api: LinkShorteningApi, exchanges: Exchanges) -> None:
    with pytest.raises(TwilioApiError) as unknown:
        api.fetch_config("DN" + "f" * 32)
    assert (unknown.value.status, unknown.value.code) == (400, 30100)
    assert exchanges.statuses == [400]


def test_retry_honours_retry_after(api: LinkShorteningApi, emulator: EmulatorControl,
                                   exchanges: Exchanges) -> None:
    sid, _ = new_domain(emulator)
    emulator.configure(script=["429"], retry_after=1)
    assert api.fetch_config(sid).domain_sid == sid
    assert exchanges.statuses == [429, 200]
    (limited_at, _), (retried_at, _) = exchanges.seen
    # Backoff alone would retry after 0.25-0.5 s; Retry-After said 1 s.
    assert retried_at - limited_at >= 1.0


def test_retries_5xx_and_30133_then_succeeds(emulator: EmulatorControl,
                                             exchanges: Exchanges) -> None:
    sid, _ = new_domain(emulator)
    api = LinkShorteningApi(TwilioSettings.from_env(retry=RetryPolicy(base_delay=0.05)),
                            response_hooks=[exchanges])
    emulator.configure(script=["503", "30133", "503"])
    assert api.validate_dns(sid).domain_sid == sid
    assert exchanges.statuses == [503, 400, 503, 200]


def test_gives_up_after_its_attempts(emulator: EmulatorControl, exchanges: Exchanges) -> None:
    sid, _ = new_domain(emulator)
    api = LinkShorteningApi(TwilioSettings.from_env(retry=RetryPolicy(attempts=3)),
                            response_hooks=[exchanges])
    emulator.configure(rate_limited=1.0, retry_after=0)
    with pytest.raises(TwilioApiError) as limited:
        api.fetch_config(sid)
    assert (limited.value.status, limited.value.code) == (429, 20429)
    assert exchanges.statuses == [429, 429, 429]


def test_flaky_twilio_still_gets_every_call_through(emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    api = LinkShorteningApi(TwilioSettings.from_env(
        retry=RetryPolicy(attempts=10, base_delay=0.01)))
    emulator.configure(rate_limited=0.15, unavailable=0.15, retry_later=0.15, retry_after=0)
    with ThreadPoolExecutor(8) as pool:
        configs = list(pool.map(lambda _: api.fetch_config(sid), range(40)))
    assert {c.domain_sid for c in configs} == {sid}


def test_retry_policy_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=4.0, max_retry_after=60)
    for retry, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0)], 1):
        delay = policy.delay(retry, None)
        assert delay is not None and low <= delay <= high
    assert policy.delay(5, None) is None  # attempts used up
    assert policy.delay(1, 7.0) == 7.0
    assert policy.delay(1, 61.0) is None  # longer than we are willing to wait
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None


def test_100_validations_are_waited_for_together(api: LinkShorteningApi,
                                                 emulator: EmulatorControl,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """All domains in every polling round, so 100 uploads cost about one delay: proven by the
    order of the polls, not by a clock (bench/validation_wait.py measures the time)."""
    delay, poll = 3.0, 0.25
    emulator.configure(validation_delay=delay)
    tag = secrets.token_hex(3)
    domains = {"DN" + secrets.token_hex(16): f"v{n}-{tag}.lsctl.test" for n in range(100)}
    emulator.seed(domains)
    bundles = {sid: make_chain((name,)).tls_cert for sid, name in domains.items()}
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        uploads = list(pool.map(lambda item: api.upload_certificate(*item), bundles.items()))
    assert all(u.cert_in_validation is not None for u in uploads)
    polled: list[str] = []
    fetch = api.fetch_certificate

    def recording(domain_sid: str, **kwargs: Any) -> Any:
        polled.append(domain_sid)  # list.append is atomic: the pool's threads may share it
        return fetch(domain_sid, **kwargs)

    monkeypatch.setattr(api, "fetch_certificate", recording)
    results = api.wait_for_validation(domains, timeout=30, poll_interval=poll)
    assert [r.domain_sid for r in results] == list(domains)
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok]
    assert set(polled[:100]) == set(domains)  # the first round looked at every domain
    rounds = max(polled.count(sid) for sid in domains)
    # The poll interval is kept: one delay's worth of rounds, with room for the emulator's
    # timer (a slow machine makes fewer rounds, never more). Waiting for the domains one after
    # another is what the first assertion rules out.
    assert rounds <= delay / poll + 4
    with capsys.disabled():
        print(f"\n100 validations in {rounds} polling rounds, "
              f"{time.monotonic() - started:.2f}s (validation delay {delay:.0f}s)")


def test_wait_reports_failure_timeout_and_errors(api: LinkShorteningApi,
                                                 emulator: EmulatorControl) -> None:
    (failing, failing_name), (slow, slow_name) = new_domain(emulator), new_domain(emulator)
    never_uploaded, _ = new_domain(emulator)
    emulator.configure(validation_delay=0.1, fail_validation=True)
    api.upload_certificate(failing, make_chain((failing_name,)).tls_cert)
    emulator.configure(validation_delay=60, fail_validation=False)
    api.upload_certificate(slow, make_chain((slow_name,)).tls_cert)
    started = time.monotonic()
    results = api.wait_for_validation([failing, slow, never_uploaded], timeout=1.0,
                                      poll_interval=0.1)
    assert time.monotonic() - started < 3
    failed, timed_out, error = results
    assert failed.state == "failed" and "failed" in failed.detail
    assert timed_out.state == "timed_out" and timed_out.certificate is not None
    assert error.state == "error" and error.error is not None and error.error.code == 20404


def test_api_key_credentials(sandbox: SandboxState, emulator: EmulatorControl,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _ = new_domain(emulator)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.setenv("TWILIO_API_KEY", sandbox.twilio_api_key_sid)
    monkeypatch.setenv("TWILIO_API_SECRET_FILE", str(sandbox.twilio_api_secret_file))
    api = LinkShorteningApi.from_env()
    assert "auth=api-key" in repr(api)
    assert api.fetch_config(sid).domain_sid == sid


def test_bad_credentials_are_one_clear_error(emulator: EmulatorControl,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _ = new_domain(emulator)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-token")
    with pytest.raises(TwilioApiError) as denied:
        LinkShorteningApi.from_env().fetch_config(sid)
    assert (denied.value.status, denied.value.code) == (401, 20003)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    with pytest.raises(MissingSecret, match="TWILIO_AUTH_TOKEN"):
        LinkShorteningApi.from_env()
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    with pytest.raises(TwilioSetupError, match="not an Account SID"):
        LinkShorteningApi.from_env()


def test_base_url_wins_over_region_and_edge(emulator: EmulatorControl,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _ = new_domain(emulator)
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    assert LinkShorteningApi.from_env().fetch_config(sid).domain_sid == sid


def test_tls_is_verified_against_the_configured_bundle_only(
        emulator: EmulatorControl, monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _ = new_domain(emulator)
    # requests would let REQUESTS_CA_BUNDLE replace the bundle; the client does not.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert LinkShorteningApi.from_env().fetch_config(sid).domain_sid == sid
    monkeypatch.delenv("LSCTL_TWILIO_CA_BUNDLE")
    with pytest.raises(TwilioSetupError, match="TLS verification"):
        LinkShorteningApi.from_env().fetch_config(sid)


@pytest.fixture
def loud_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 and twilio.http_client included
    yield caplog


def test_no_output_anywhere_holds_the_auth_token(
        sandbox: SandboxState, api: LinkShorteningApi, emulator: EmulatorControl,
        loud_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    token = sandbox.twilio_auth_token_file.read_text().strip()
    secret = sandbox.twilio_api_secret_file.read_text().strip()
    sid, name = new_domain(emulator)
    texts = [repr(api), repr(api.settings), repr(api.settings.credentials), repr(emulator)]
    emulator.configure(script=["429", "503"], retry_after=0)
    api.upload_certificate(sid, make_chain((name,)).tls_cert)
    api.wait_for_validation([sid], timeout=10, poll_interval=0.05)
    no_retries = LinkShorteningApi(TwilioSettings.from_env(retry=RetryPolicy(attempts=1)))
    failing: list[Callable[[], object]] = [
        lambda: api.upload_certificate(sid, "junk"),
        lambda: no_retries.fetch_certificate("DN" + "0" * 32)]
    for bad in failing:
        with pytest.raises(TwilioApiError) as failed:
            bad()
        texts += [str(failed.value), repr(failed.value)]
    env = subprocess_env(LSCTL_SANDBOX_DIR=sandbox.directory)
    printed = subprocess.run(lsctl_argv("sandbox", "env"), capture_output=True, text=True,
                             env=env, cwd=ROOT, check=True, timeout=60)
    assert 'export TWILIO_AUTH_TOKEN="$(cat ' in printed.stdout
    # The exports do hand the token over, through the shell's `cat`.
    handed = subprocess.run(["bash", "-c", f'eval "$({" ".join(lsctl_argv("sandbox", "env"))})"'
                             ' && printf %s "$TWILIO_AUTH_TOKEN" | sha256sum'],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=True,
                            timeout=60)
    assert handed.stdout.split()[0] == hashlib.sha256(token.encode()).hexdigest()
    captured = capfd.readouterr()
    texts += [loud_logs.text, captured.out, captured.err, printed.stdout, printed.stderr,
              handed.stderr, (sandbox.path / "state.json").read_text(),
              (sandbox.path / "twilio-emulator.json").read_text(),
              (sandbox.path / "logs" / "twilio.log").read_text()]
    assert "Retry" in loud_logs.text or "retry" in loud_logs.text  # the logs did run
    for text in texts:
        assert token not in text and secret not in text


def test_threads_share_one_connection_pool(emulator: EmulatorControl) -> None:
    """Issue 14: each thread used to open its own session and TCP connection; reads from
    one thread after another now reuse the client's pooled connection."""
    ports: list[int] = []

    def local_port(response: requests.Response) -> None:
        # Hooks run before the body is read: the connection is still attached.
        connection = response.raw.connection
        assert connection is not None and connection.sock is not None
        ports.append(connection.sock.getsockname()[1])

    api = LinkShorteningApi.from_env(response_hooks=[local_port])
    sid, _ = new_domain(emulator)
    api.fetch_config(sid)
    for _ in range(4):  # a fresh thread each time, one after the other
        with ThreadPoolExecutor(1) as pool:
            pool.submit(api.fetch_config, sid).result()
    assert len(ports) == 5 and len(set(ports)) == 1


def test_no_per_request_environment_lookup(api: LinkShorteningApi, emulator: EmulatorControl,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a proxy, requests' merge_environment_settings (env, proxies, netrc on every
    request) is not consulted: the session does not trust the environment."""
    sid, _ = new_domain(emulator)
    api.fetch_config(sid)  # the session resolves the proxy for Twilio's host once, here
    lookups: list[str] = []
    original = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        lookups.append(url)
        return original(url, no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    for _ in range(3):
        api.fetch_config(sid)
    assert lookups == []


def test_no_per_request_bundle_check(api: LinkShorteningApi, emulator: EmulatorControl,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA bundle is loaded into one SSLContext with the session, not looked up on disk
    (requests' pool key and cert_verify) for every request."""
    sid, _ = new_domain(emulator)
    api.fetch_config(sid)
    bundle = api.settings.ca_bundle
    assert bundle is not None
    checks: list[str] = []

    def counting(check: Any) -> Any:
        def wrapped(path: Any) -> bool:
            if str(path) == bundle:
                checks.append(str(path))
            return bool(check(path))
        return wrapped

    monkeypatch.setattr(os.path, "isdir", counting(os.path.isdir))
    monkeypatch.setattr(os.path, "exists", counting(os.path.exists))
    for _ in range(3):
        api.fetch_config(sid)
    assert checks == []
