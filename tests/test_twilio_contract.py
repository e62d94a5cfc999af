"""The contract: Twilio's own OpenAPI description judges both sides of every exchange.

Every request lsctl's client sends must validate against the request schema of
`twilio_messaging_v1.json`/`_v2.json` (as shipped in @twilio/cli-core, fetched by `make test`
into .cache/), and every answer of the emulator against the response schema, for every Link
Shortening operation, success and error alike. Validation is openapi-core's, made strict:
undocumented properties are refused, every documented property must be present (Twilio sends
nulls, not gaps), and `format: uri` is checked. openapi-core reads only the declared fields of a
form body and ignores the rest, so undeclared form fields are refused by `Contract` itself.

The v1/v2 descriptions declare no error responses; Twilio's error body is published in the same
package (twilio_messaging_v3.json declares it on its 4xx answers), so that schema is added as
each Link Shortening operation's `default` response, with its four members required.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from linkshortening.twilio.api import LinkShorteningApi, TwilioCredentials, TwilioSettings
from linkshortening.twilio.errors import TwilioApiError
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.certfactory import make_chain
from tests.conftest import ROOT, new_domain, new_messaging_service

CLI_CORE_VERSION = "9.0.0"  # the Makefile's pin
SPEC_DIR = ROOT / ".cache" / "twilio-openapi" / CLI_CORE_VERSION
TWILIO = "https://messaging.twilio.com"  # the spec's server; the emulator stands in for it
METHODS = ("get", "post", "delete")

pytestmark = pytest.mark.usefixtures("twilio_env", "test_ca_trusted")


def load(name: str) -> dict[str, Any]:
    path = SPEC_DIR / name
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make test` (or `make setup`), "
                    f"which fetches Twilio's OpenAPI description with `npm pack "
                    f"@twilio/cli-core@{CLI_CORE_VERSION}`", pytrace=False)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@dataclass(frozen=True)
class Operation:
    spec: str  # "v1" or "v2"
    method: str
    template: str
    operation_id: str

    @property
    def name(self) -> str:
        return f"{self.spec} {self.operation_id}"

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", self.template)
        return method.lower() == self.method and re.fullmatch(pattern, path) is not None


def link_shortening(spec: dict[str, Any], version: str) -> list[Operation]:
    return [Operation(version, method, template, item[method]["operationId"])
            for template, item in spec["paths"].items() if "/LinkShortening/" in template
            for method in METHODS if method in item]


def twilio_error_schema(v3: dict[str, Any]) -> dict[str, Any]:
    """Twilio's error body as the same package publishes it, with its members required."""
    members = {"code", "message", "more_info", "status"}
    for item in v3["paths"].values():
        for method in METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("4") and schema and set(schema.get("properties", {})) \
                        == members:
                    return {**copy.deepcopy(schema), "required": sorted(members)}
    raise AssertionError("twilio_messaging_v3.json no longer declares Twilio's error body")


def _is_uri(value: object) -> bool:
    parts = urlsplit(str(value))
    return bool(parts.scheme and parts.netloc)


def contract(spec: dict[str, Any], error: dict[str, Any]) -> OpenAPI:
    spec = copy.deepcopy(spec)
    spec["paths"] = {t: item for t, item in spec["paths"].items() if "/LinkShortening/" in t}
    for item in spec["paths"].values():
        for method in METHODS:
            if method in item:
                item[method]["responses"]["default"] = {
                    "description": "Twilio error",
                    "content": {"application/json": {"schema": error}}}
    config = Config(additional_properties_default_policy="forbid",
                    response_properties_default_policy="required",
                    extra_format_validators={"uri": _is_uri})
    return OpenAPI.from_dict(spec, config=config)


@dataclass
class Contract:
    apis: dict[str, OpenAPI]
    operations: list[Operation]
    form_fields: dict[Operation, set[str]]  # declared request body fields

    def operation(self, method: str, path: str) -> Operation:
        found = [op for op in self.operations if op.matches(method, path)]
        assert len(found) == 1, f"{method} {path} is no Link Shortening operation of the spec"
        return found[0]

    def check_request(self, request: WireRequest) -> Operation:
        operation = self.operation(request.method, request.path)
        self.apis[operation.spec].validate_request(request)
        sent = {name for name, _ in parse_qsl((request.body or b"").decode())}
        undeclared = sent - self.form_fields[operation]
        assert not undeclared, f"{operation.name}: fields not in Twilio's description: {undeclared}"
        return operation


def form_fields(spec: dict[str, Any], operation: Operation) -> set[str]:
    body = spec["paths"][operation.template][operation.method].get("requestBody", {})
    schema = body.get("content", {}).get("application/x-www-form-urlencoded", {}).get("schema")
    return set((schema or {}).get("properties", {}))


@pytest.fixture(scope="module")
def twilio_contract() -> Contract:
    v1, v2 = load("twilio_messaging_v1.json"), load("twilio_messaging_v2.json")
    error = twilio_error_schema(load("twilio_messaging_v3.json"))
    specs = {"v1": v1, "v2": v2}
    operations = link_shortening(v1, "v1") + link_shortening(v2, "v2")
    return Contract({"v1": contract(v1, error), "v2": contract(v2, error)}, operations,
                    {op: form_fields(specs[op.spec], op) for op in operations})


# --- the wire, as openapi-core sees it --------------------------------------------------


@dataclass
class WireRequest:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class WireResponse:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


def wire(response: requests.Response) -> tuple[WireRequest, WireResponse]:
    sent = response.request
    parts = urlsplit(sent.url or "")
    body = sent.body.encode() if isinstance(sent.body, str) else sent.body
    request = WireRequest(
        TWILIO, parts.path, (sent.method or "").lower(), body,
        sent.headers.get("Content-Type", ""),
        RequestParameters(query=ImmutableMultiDict(parse_qsl(parts.query)),
                          header=Headers(dict(sent.headers))))
    answer = WireResponse(response.status_code, response.headers.get("Content-Type", ""),
                          Headers(dict(response.headers)), response.content)
    return request, answer


class Recorder:
    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __call__(self, response: requests.Response) -> None:
        self.responses.append(response)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def holds_until_spoiled(contract: Contract, response: requests.Response,
                        spoil: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """The real v1 response meets Twilio's description; the same response spoiled does not."""
    request, answer = wire(response)
    spec = contract.apis["v1"]
    spec.validate_response(request, answer)
    answer.data = json.dumps(spoil(json.loads(answer.data or b"{}"))).encode()
    with pytest.raises(Exception, match=r"(?i)valid"):
        spec.validate_response(request, answer)


def fails(call: Callable[[], object]) -> TwilioApiError:
    with pytest.raises(TwilioApiError) as failed:
        call()
    return failed.value


def exercise_every_operation(api: LinkShorteningApi, emulator: EmulatorControl,
                             sandbox: SandboxState, recorder: Recorder) -> None:
    """Each Link Shortening operation once answered with success and once with an error."""
    sid, name = new_domain(emulator)
    other, _ = new_domain(emulator)
    unknown = "DN" + "0" * 32
    service = new_messaging_service()

    api.upload_certificate(sid, make_chain((name,)).tls_cert)  # 201
    api.wait_for_validation([sid], timeout=10, poll_interval=0.05)
    api.upload_certificate(sid, make_chain((name,)).tls_cert)  # 200
    fails(lambda: api.upload_certificate(sid, "junk"))
    api.fetch_certificate(sid, api_version=1)
    fails(lambda: api.fetch_certificate(unknown, api_version=1))
    api.fetch_certificate(sid, api_version=2)
    fails(lambda: api.fetch_certificate(unknown, api_version=2))
    api.fetch_config(sid)
    fails(lambda: api.fetch_config(unknown))
    api.update_config(sid, fallback_url="https://e.example/expired",
                      callback_url="https://hooks.example/c", continue_on_failure=False,
                      disable_https=True)
    fails(lambda: api.update_config(unknown, disable_https=True))
    api.associate_messaging_service(sid, service)
    fails(lambda: api.associate_messaging_service(other, service))  # 30130
    api.fetch_messaging_service_domain(service)
    fails(lambda: api.fetch_messaging_service_domain(new_messaging_service()))
    api.fetch_messaging_service_config(service)
    fails(lambda: api.fetch_messaging_service_config(new_messaging_service()))
    api.dissociate_messaging_service(sid, service)
    fails(lambda: api.dissociate_messaging_service(sid, service))
    api.validate_dns(sid)
    fails(lambda: api.validate_dns(unknown))
    api.delete_certificate(sid)
    fails(lambda: api.delete_certificate(sid))
    api.request_managed_cert(sid)
    fails(lambda: api.request_managed_cert(unknown))
    # Transient errors (retried) and a refused login answer in the same shape.
    emulator.configure(script=["429", "503", "30133"], retry_after=0)
    api.fetch_config(sid)
    account = sandbox.twilio_account_sid
    wrong = TwilioSettings(TwilioCredentials(account, account, "wrong"),
                           api.settings.base_url, api.settings.ca_bundle)
    assert fails(lambda: LinkShorteningApi(wrong, response_hooks=[recorder])
                 .fetch_config(sid)).code == 20003


def test_every_exchange_validates_against_twilios_description(
        twilio_contract: Contract, sandbox: SandboxState, emulator: EmulatorControl,
        recorder: Recorder) -> None:
    api = LinkShorteningApi.from_env(response_hooks=[recorder])
    exercise_every_operation(api, emulator, sandbox, recorder)
    covered: set[tuple[str, str]] = set()
    for response in recorder.responses:
        request, answer = wire(response)
        operation = twilio_contract.check_request(request)
        twilio_contract.apis[operation.spec].validate_response(request, answer)
        covered.add((operation.name, "success" if answer.status_code < 400 else "error"))
    wanted = {(op.name, outcome) for op in twilio_contract.operations
              for outcome in ("success", "error")}
    assert covered == wanted, sorted(wanted - covered)
    assert len(twilio_contract.operations) == 12  # v1: 11 Link Shortening operations, v2: 1
    statuses = {response.status_code for response in recorder.responses}
    assert {200, 201, 204, 400, 401, 404, 429, 503} <= statuses


@pytest.mark.parametrize("spoil", [
    lambda body: {**body, "undocumented": 1},
    lambda body: {k: v for k, v in body.items() if k != "url"},
    lambda body: {**body, "date_updated": "yesterday"},
    lambda body: {**body, "url": "not a uri"},
    lambda body: {**body, "domain_sid": "DN123"},
], ids=["extra property", "missing property", "bad date-time", "bad uri", "bad SID pattern"])
def test_the_contract_is_not_vacuous(twilio_contract: Contract, emulator: EmulatorControl,
                                     recorder: Recorder,
                                     spoil: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """A response that strays from the description fails, so passing means something."""
    sid, _ = new_domain(emulator)
    LinkShorteningApi.from_env(response_hooks=[recorder]).fetch_config(sid)
    holds_until_spoiled(twilio_contract, recorder.responses[-1], spoil)


@pytest.mark.parametrize(("body", "why"), [
    (b"FallbackUrl=https%3A%2F%2Fe.example&Unknown=1", "not in Twilio's description"),
    (b"FallbackUrl=not-a-url", "(?i)valid"),
    (b"DisableHttps=maybe", "(?i)valid"),
], ids=["undeclared field", "not a uri", "not a boolean"])
def test_a_request_outside_the_description_fails(twilio_contract: Contract, body: bytes,
                                                 why: str) -> None:
    request = WireRequest(TWILIO, f"/v1/LinkShortening/Domains/DN{'a' * 32}/Config", "post",
                          body, "application/x-www-form-urlencoded",
                          RequestParameters(header=Headers({"Authorization": "Basic eDp5"})))
    with pytest.raises(Exception, match=why):
        twilio_contract.check_request(request)



@pytest.mark.parametrize("spoil", [
    lambda body: {k: v for k, v in body.items() if k != "more_info"},
    lambda body: {**body, "detail": "Twilio sometimes adds one; the description has none"},
    lambda body: {**body, "code": "30100"},
], ids=["missing more_info", "extra member", "code as a string"])
def test_error_bodies_are_held_to_twilios_error_schema(
        twilio_contract: Contract, recorder: Recorder,
        spoil: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    fails(lambda: LinkShorteningApi.from_env(response_hooks=[recorder])
          .fetch_config("DN" + "0" * 32))
    holds_until_spoiled(twilio_contract, recorder.responses[-1], spoil)
