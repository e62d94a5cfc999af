"""The `acme` library's network layer, made to survive what real CAs do under load.

The library retries a rejected nonce once; Let's Encrypt (and Pebble's
PEBBLE_WFE_NONCEREJECT) can reject several in a row. A 429 or 503 carries Retry-After, which
the library ignores; here it is honoured, within a cap, and the request signed anew.
No request outlasts the run's deadline: each one's timeout is what remains, and a hung CA
ends in DeadlineReached, which the run reports as deferred, not failed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
from collections.abc import Callable
from typing import Any

import requests
from acme import client, messages

from linkshortening.common.deadline import Deadline
from linkshortening.common.https import server_session

BAD_NONCE_RETRIES = 20
RETRY_AFTER_RETRIES = 3
RETRY_AFTER_CAP = 120.0  # seconds; a longer wait is reported, not slept through
RATE_LIMITED_DEFAULT = dt.timedelta(hours=3)  # rateLimited saying no time: the orders window
MIN_REQUEST_TIMEOUT = 0.5  # seconds; less cannot even connect, so the deadline has come


class DeadlineReached(Exception):
    """The run's deadline came before the CA answered: the domain waits for the next run."""


def no_deadline() -> Deadline:
    return Deadline.never()


class ResilientNetwork(client.ClientNetwork):
    """ClientNetwork that retries badNonce and honours Retry-After on 429/503.

    `server` (the directory URL) gives the session its proxy once and pins the trust that
    `verify_ssl` names (a bundle path, or True for requests' default): one renewal run sends
    thousands of signed requests, and requests would read the environment on each.

    `deadline`: the run's, read at each request (the session learns it once open)."""

    def __init__(self, *args: Any, server: str, sleep: Any = time.sleep,
                 deadline: Callable[[], Deadline] = no_deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.verify_ssl is not False:  # False (never set by lsctl) keeps requests' way
            self.session.close()
            bundle = self.verify_ssl if isinstance(self.verify_ssl, str) else None
            self.session = server_session(server, bundle)
        self._sleep = sleep
        self._deadline = deadline
        self._last_wait: float | None = None  # Retry-After of the last 429/503, if any

    def _check_response(self, response: requests.Response,  # type: ignore[override]
                        content_type: str | None = None) -> requests.Response:
        self._last_wait = (_retry_after(response.headers.get("Retry-After"))
                           if response.status_code in (429, 503) else None)
        return super()._check_response(response, content_type=content_type)

    @property
    def last_retry_after(self) -> float | None:
        """Seconds the last 429/503 asked to wait (what a rateLimited error leaves here)."""
        return self._last_wait

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        return self._retrying(lambda: self._post_once(*args, **kwargs), nonce=True)

    def get(self, url: str, content_type: str = "application/json",
            **kwargs: Any) -> requests.Response:
        return self._retrying(lambda: super(ResilientNetwork, self).get(
            url, content_type=content_type, **kwargs), nonce=False)

    def _send_request(self, method: str, url: str, *args: Any,
                      **kwargs: Any) -> requests.Response:
        deadline = self._deadline()
        left = deadline.remaining()
        timeout = min(kwargs.pop("timeout", self._default_timeout), left)
        if timeout < MIN_REQUEST_TIMEOUT:
            raise DeadlineReached(f"the run's deadline came before {method} {url}")
        try:
            return super()._send_request(method, url, *args, timeout=timeout, **kwargs)
        except requests.Timeout:
            if not deadline.bounded or timeout >= self._default_timeout:
                raise
            raise DeadlineReached(f"the CA did not answer {method} {url} before the run's "
                                  "deadline") from None

    def _retrying(self, send: Any, nonce: bool) -> requests.Response:
        nonces = waits = 0
        while True:
            try:
                response: requests.Response = send()
                return response
            except messages.Error as exc:
                if nonce and exc.code == "badNonce" and nonces < BAD_NONCE_RETRIES:
                    nonces += 1  # _post_once fetches a fresh nonce and signs again
                    continue
                wait = self._last_wait
                if (wait is None or wait > RETRY_AFTER_CAP or waits >= RETRY_AFTER_RETRIES
                        or not self._deadline().allows(wait)):
                    raise
                waits += 1
                self._sleep(wait)


def rate_limited_until(error: messages.Error, net: client.ClientNetwork) -> dt.datetime | None:
    """When a rateLimited error lets the account order again: its Retry-After, else the
    "retry after <time> UTC" Let's Encrypt writes in every rate-limit message."""
    if error.code != "rateLimited":
        return None
    now = dt.datetime.now(dt.UTC)
    wait = net.last_retry_after if isinstance(net, ResilientNetwork) else None
    if wait is not None:
        return now + dt.timedelta(seconds=wait)
    found = re.search(r"retry after (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", error.detail or "")
    if found:
        return dt.datetime.fromisoformat(found.group(1)).replace(tzinfo=dt.UTC)
    return now + RATE_LIMITED_DEFAULT


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
