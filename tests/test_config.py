"""Stack files: the shipped ones load, and every kind of bad input gets one clear message."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from linkshortening.cli.main import main
from linkshortening.stack import values
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack, load_stack_file
from linkshortening.stack.parse import parse_stack
from linkshortening.stack.state_location import s3_location
from linkshortening.stack.targets import CNAME_TARGET, DEFAULT_ALLOWED_IPS
from linkshortening.stack.yamlread import parse_yaml, read_text
from tests.conftest import ROOT, lsctl_argv

GOOD_SID = "DN" + "a" * 32
GOOD_MG = "MG" + "b" * 32


def write_stack(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def domain_stack(tmp_path: Path, domain_yaml: str, extra: str = "") -> Path:
    body = "config:\n" + textwrap.indent(textwrap.dedent(extra), "  ") + "  lsctl:domains:\n"
    return write_stack(tmp_path, body + textwrap.indent(textwrap.dedent(domain_yaml), "    "))


def test_shipped_sandbox_stack_loads() -> None:
    stack = load_stack("sandbox", ROOT)
    assert stack.name == "sandbox"
    assert [d.fqdn for d in stack.domains][:2] == ["lsctl.test", "go.lsctl.test"]
    root, sub = stack.domains[0], stack.domains[1]
    assert root.is_root and not sub.is_root
    assert stack.zones == ("lsctl.test",)
    assert root.dns is not None and root.dns.provider == "rfc2136"
    assert stack.targets.allowed_ips == DEFAULT_ALLOWED_IPS
    assert stack.targets.cname_target == CNAME_TARGET


def test_shipped_example_stack_loads() -> None:
    stack = load_stack("example", ROOT)
    by_name = {d.fqdn: d for d in stack.domains}
    assert by_name["example-links.com"].is_root
    assert by_name["go.example.com"].alt_names == ("*.go.example.com",)
    assert by_name["go.example.com"].ttl == 3600
    org = by_name["sms.example.org"].dns
    assert org is not None and org.provider == "rfc2136" and org.server == "ns1.example.org:53"
    assert by_name["example-links.com"].dns is not None
    assert by_name["example-links.com"].dns.provider == "route53"


def test_defaults_and_normalisation(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, f"""\
        - fqdn: Links.Example.COM.
          zone: example.com
          domainSid: {GOOD_SID}
        """, extra="lsctl:allowedIps: [192.0.2.1]\nlsctl:ttl: 600\n")
    spec = load_stack_file(path).domains[0]
    assert spec.fqdn == "links.example.com" and not spec.is_root
    assert spec.ttl == 600 and spec.continue_on_failure and not spec.disable_https
    assert spec.certificate == "acme"
    assert load_stack_file(path).targets.allowed_ips == ("192.0.2.1",)


BAD_DOMAINS = [
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          fallbackURL: https://x.example.com/
        """, "lsctl:domains[0].fallbackURL", "is not a known key", id="unknown-key"),
    pytest.param("""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: DN1234
        """, "lsctl:domains[0].domainSid", "is not a Twilio Domain SID", id="bad-domain-sid"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          messagingServiceSids: [MG12, {GOOD_MG}]
        """, "lsctl:domains[0].messagingServiceSids[0]", "is not a Messaging Service SID",
        id="bad-messaging-service-sid"),
    pytest.param(f"""\
        - fqdn: links.example.org
          zone: example.com
          domainSid: {GOOD_SID}
        """, "lsctl:domains[0].fqdn", "is outside its zone example.com", id="outside-zone"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
        - fqdn: A.example.com.
          zone: example.com
          domainSid: {GOOD_SID}
        """, "lsctl:domains[1].fqdn", "declared twice", id="duplicate-domain"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          callbackUrl: http://hooks.example.com/clicks
        """, "lsctl:domains[0].callbackUrl", "is not an https:// URL", id="http-callback"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          fallbackUrl: ftp://example.com/
        """, "lsctl:domains[0].fallbackUrl", "is not an https:// URL", id="ftp-fallback"),
    pytest.param("""\
        - fqdn: a.example.com
          zone: example.com
        """, "lsctl:domains[0].domainSid", "is required but missing", id="missing-sid"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          certificate: selfsigned
        """, "lsctl:domains[0].certificate", "is not one of acme, managed, external",
        id="bad-mode"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          continueOnFailure: "yes"
        """, "lsctl:domains[0].continueOnFailure", "expected true or false", id="bad-bool"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          altNames: ["*.*.example.com"]
        """, "lsctl:domains[0].altNames[0]", "is not a valid domain name", id="bad-alt-name"),
    pytest.param(f"""\
        - fqdn: a.example.com
          zone: example.com
          domainSid: {GOOD_SID}
          dns: {{provider: rfc2136}}
        """, "lsctl:domains[0].dns.tsigKeyName", "is required", id="rfc2136-without-key"),
]


@pytest.mark.parametrize(("domains", "key", "problem"), BAD_DOMAINS)
def test_bad_domain_names_file_key_and_fix(tmp_path: Path, domains: str, key: str,
                                           problem: str) -> None:
    path = domain_stack(tmp_path, domains)
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    assert info.value.key == key
    assert problem in info.value.problem
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ")
    assert "Fix: " in message and info.value.fix


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}}}\n", extra="lsctl:domain: x\n")
    with pytest.raises(ConfigError, match=r"lsctl:domain: is not a known key\. Fix: did you "
                                          r"mean domains\?"):
        load_stack_file(path)


@pytest.mark.parametrize("namespace", ["lsclt", "lsct", "lsctll", "Lsctl"])
def test_a_typo_in_the_namespace_names_the_key_it_meant(tmp_path: Path, namespace: str) -> None:
    path = write_stack(tmp_path, f"config:\n  {namespace}:domains: []\n")
    with pytest.raises(ConfigError, match=rf"{namespace}:domains: is not a known key\. Fix: did "
                                          r"you mean lsctl:domains\?"):
        load_stack_file(path)


def test_a_wrong_stack_name_lists_the_stacks_there(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    for name in ("prod", "staging"):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    with pytest.raises(ConfigError, match=r"there is no stack 'prdo'\. Fix: did you mean prod\? "
                                          r"the stacks here are: prod, staging"):
        load_stack("prdo", tmp_path)


def test_other_namespaces_are_left_to_pulumi(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}}}\n",
                        extra="aws:region: eu-west-1\nlsctl-other:x: {secure: v1:abc}\n")
    assert load_stack_file(path).domains[0].fqdn == "a.example.com"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"file not found\. Fix: check the path"):
        load_stack_file(tmp_path / "Pulumi.nope.yaml")


@pytest.mark.parametrize("body", [
    "config:\n  lsctl:domains: [\n",  # unclosed flow sequence
    "config:\n\tlsctl:ttl: 3\n",  # tab indentation
    "config:\n  lsctl:ttl: 1\n  lsctl:ttl: 2\n",  # duplicate key
])
def test_invalid_yaml(tmp_path: Path, body: str) -> None:
    path = write_stack(tmp_path, body)
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+, column \d+") as info:
        load_stack_file(path)
    assert str(path) in str(info.value)


def test_no_config_mapping(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "- just\n- a list\n")
    with pytest.raises(ConfigError, match="needs a top-level config mapping"):
        load_stack_file(path)


def test_select_unknown_domain() -> None:
    stack = load_stack("sandbox", ROOT)
    assert [d.fqdn for d in stack.select(["GO.lsctl.test."])] == ["go.lsctl.test"]
    with pytest.raises(ConfigError, match=r"nope\.lsctl\.test is not declared"):
        stack.select(["nope.lsctl.test"])


@pytest.mark.parametrize(("domains", "key", "problem"), BAD_DOMAINS[:6])
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         domains: str, key: str, problem: str) -> None:
    path = domain_stack(tmp_path, domains)
    assert main(["records", "--stack", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and problem in lines[0] and "Fix:" in lines[0]


def test_cli_subprocess_has_no_traceback(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "config:\n  lsctl:domains: [\n")
    result = subprocess.run(lsctl_argv("records", "--stack", str(path)), capture_output=True,
                            text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"lsctl: {path}: invalid YAML")
    missing = subprocess.run(lsctl_argv("records", "--stack", str(tmp_path / "Pulumi.x.yaml")),
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "file not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_acme_settings(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}}}\n", extra="""\
        lsctl:acme:
          directory: letsencrypt-staging
          email: ops@example.com
          agreeTos: true
          keyType: rsa-2048
          renewWhenLifetimeLeft: 0.25
          propagationCheck: false
          state: {backend: secretsmanager, location: lsctl/prod}
        """)
    acme = load_stack_file(path).acme
    assert acme.directory_url == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert acme.agree_tos and acme.key_type == "rsa-2048" and acme.renew_fraction == 0.25
    assert not acme.propagation_check
    assert (acme.state_backend, acme.state_location) == ("secretsmanager", "lsctl/prod")
    assert load_stack("sandbox", ROOT).acme.agree_tos


def test_s3_state_settings(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}}}\n", extra="""\
        lsctl:acme:
          state: {backend: s3, location: s3://lsctl-state/fleet/prod/, kmsKeyId: k-1,
                  managed: true}
        """)
    acme = load_stack_file(path).acme
    assert (acme.state_backend, acme.state_location, acme.state_kms_key_id,
            acme.state_managed) == ("s3", "s3://lsctl-state/fleet/prod/", "k-1", True)
    assert str(s3_location(load_stack_file(path))) == "s3://lsctl-state/fleet/prod"


@pytest.mark.parametrize(("section", "value", "key"), [
    ("acme", "{directory: http://ca.example/dir}", "lsctl:acme.directory"),
    ("acme", "{email: nobody}", "lsctl:acme.email"),
    ("acme", "{keyType: dsa}", "lsctl:acme.keyType"),
    ("acme", "{renewWhenLifetimeLeft: 2}", "lsctl:acme.renewWhenLifetimeLeft"),
    ("acme", "{state: {backend: dynamodb}}", "lsctl:acme.state.backend"),
    ("acme", "{state: {backend: s3}}", "lsctl:acme.state.location"),
    ("acme", "{state: {backend: s3, location: 's3://Bad_Bucket/p'}}",
     "lsctl:acme.state.location"),
    ("acme", "{state: {backend: s3, location: 's3://b-1/../up'}}", "lsctl:acme.state.location"),
    ("acme", "{state: {backend: directory, kmsKeyId: k}}", "lsctl:acme.state.kmsKeyId"),
    ("acme", "{state: {backend: s3, location: 's3://b-1/p', managed: yes please}}",
     "lsctl:acme.state.managed"),
    ("acme", "{agreeToS: true}", "lsctl:acme.agreeToS"),
    ("renewal", "{schedule: daily}", "lsctl:renewal.schedule"),
    ("renewal", "{alarmDays: 0}", "lsctl:renewal.alarmDays"),
    ("renewal", "{alarmEmail: ops}", "lsctl:renewal.alarmEmail"),
    ("renewal", "{timeoutSeconds: 3600}", "lsctl:renewal.timeoutSeconds"),
    ("renewal", "{enabled: sometimes}", "lsctl:renewal.enabled"),
    ("renewal", "{reserveConcurrency: maybe}", "lsctl:renewal.reserveConcurrency"),
])
def test_bad_acme_and_renewal_settings(tmp_path: Path, section: str, value: str,
                                       key: str) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}}}\n",
                        extra=f"lsctl:{section}: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    assert info.value.key == key


VERIFICATION = "twilio-domain-verification=" + "0123456789abcdef" * 2


def test_pulumi_secrets_are_accepted_but_not_kept(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}, caa: true, allowOverwrite: true, "
                                  f"verificationTxt: {VERIFICATION}}}\n", extra="""\
        lsctl:twilioAccountSid: {secure: v1:abc}
        lsctl:twilioAuthToken: {secure: v1:def}
        lsctl:renewal: {schedule: "cron(17 3,15 * * ? *)", alarmDays: 10, enabled: false}
        """)
    stack = load_stack_file(path)
    spec = stack.domains[0]
    assert spec.caa and spec.allow_overwrite and spec.verification_txt == VERIFICATION
    assert stack.renewal.schedule == "cron(17 3,15 * * ? *)" and stack.renewal.alarm_days == 10
    assert not stack.renewal.enabled
    assert "v1:def" not in repr(stack)


@pytest.mark.parametrize("value", ["twilio-verify=1", "twilio-domain-verification=abc"])
def test_bad_verification_txt(tmp_path: Path, value: str) -> None:
    path = domain_stack(tmp_path, f"- {{fqdn: a.example.com, zone: example.com, "
                                  f"domainSid: {GOOD_SID}, verificationTxt: {value}}}\n")
    with pytest.raises(ConfigError, match="Twilio Admin > Domains") as info:
        load_stack_file(path)
    assert info.value.key == "lsctl:domains[0].verificationTxt"


def _domains(*entries: tuple[str, str, str]) -> str:
    """One flow-mapping line per (fqdn, domainSid, extra keys) in zone example.com."""
    return "".join(f"- {{fqdn: {fqdn}, zone: example.com, domainSid: {sid}{extra}}}\n"
                   for fqdn, sid, extra in entries)


def test_duplicate_domain_sid_names_both_places(tmp_path: Path) -> None:
    path = domain_stack(tmp_path, _domains(("a.example.com", GOOD_SID, ""),
                                           ("b.example.com", GOOD_SID, "")))
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    assert info.value.key == "lsctl:domains[1].domainSid"
    assert "also the domainSid of domains[0] (a.example.com)" in info.value.problem


def test_messaging_service_on_two_domains_names_both_places(tmp_path: Path) -> None:
    services = f", messagingServiceSids: [{GOOD_MG}]"
    path = domain_stack(tmp_path, _domains(("a.example.com", GOOD_SID, services),
                                           ("b.example.com", "DN" + "c" * 32, services)))
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    assert info.value.key == "lsctl:domains[1].messagingServiceSids[0]"
    assert "also at domains[0].messagingServiceSids[0] (a.example.com)" in info.value.problem
    assert "30130" in info.value.problem


def _state_stack(directory: Path, name: str, state: str, sid: str = GOOD_SID) -> Path:
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(f"config:\n  lsctl:acme: {{state: {state}}}\n  lsctl:domains: "
                    f"[{{fqdn: {name}.example.com, zone: example.com, domainSid: {sid}}}]\n")
    return path


@pytest.mark.parametrize(("mine", "theirs"), [
    ("{backend: secretsmanager, location: lsctl/prod}",
     "{backend: secretsmanager, location: lsctl/prod/}"),
    ("{location: state/prod}", "{backend: directory, location: ./state/./prod}"),
])
def test_state_location_of_another_stack_file_is_refused(tmp_path: Path, mine: str,
                                                         theirs: str) -> None:
    _state_stack(tmp_path, "prod", theirs)
    path = _state_stack(tmp_path, "staging", mine)
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    assert info.value.key == "lsctl:acme.state.location"
    assert str(path) in str(info.value) and str(tmp_path / "Pulumi.prod.yaml") in str(info.value)


def test_distinct_or_default_state_locations_load(tmp_path: Path) -> None:
    _state_stack(tmp_path, "prod", "{backend: secretsmanager, location: lsctl/prod}")
    _state_stack(tmp_path, "dir", "{backend: directory, location: lsctl/prod}")  # not the same
    (tmp_path / "Pulumi.broken.yaml").write_text("config: [location\n")  # its own problem
    path = _state_stack(tmp_path, "staging", "{backend: secretsmanager, location: lsctl/stg}")
    assert load_stack_file(path).acme.state_location == "lsctl/stg"
    assert load_stack_file(tmp_path / "Pulumi.dir.yaml").acme.state_backend == "directory"
    default = _state_stack(tmp_path, "other", "{backend: secretsmanager}")
    assert load_stack_file(default).acme.state_location is None


@pytest.mark.parametrize(("pattern", "good"), [
    (values.DOMAIN_SID, GOOD_SID),
    (values.MESSAGING_SERVICE_SID, GOOD_MG),
    (values.VERIFICATION_TXT, VERIFICATION),
    (values.LABEL, "links"),
    (values.SCHEDULE, "rate(12 hours)"),
])
def test_patterns_match_whole_values_only(pattern: re.Pattern[str], good: str) -> None:
    assert pattern.fullmatch(good)
    # `re.match(r"^...$")` accepts these: `$` matches before a trailing newline.
    assert not pattern.fullmatch(good + "\n")
    assert re.match(f"^{pattern.pattern}$", good + "\n")


BASE = {"domains": [{"fqdn": "a.example.com", "zone": "example.com", "domainSid": GOOD_SID}]}


@pytest.mark.parametrize(("config", "key", "problem"), [
    ({"acme": {"propagationInterval": float("nan")}}, "lsctl:acme.propagationInterval", "got nan"),
    ({"acme": {"propagationInterval": float("inf")}}, "lsctl:acme.propagationInterval", "got inf"),
    ({"ttl": 10**5000}, "lsctl:ttl", "got a 16610-bit number"),
    ({"domains": [{**BASE["domains"][0], "domainSid": GOOD_SID + "\n"}]},
     "lsctl:domains[0].domainSid", "has an unprintable character (\\n)"),
    ({"domains": [{**BASE["domains"][0], "fqdn": "x" * 100_000 + ".example.com"}]},
     "lsctl:domains[0].fqdn", "'xxxxxxxxxx"),
])
def test_pulumi_config_path_refuses_the_same(config: dict[str, object], key: str,
                                             problem: str) -> None:
    # components/stack_config.py hands pulumi.Config's JSON values to parse_stack directly.
    with pytest.raises(ConfigError) as info:
        parse_stack({**BASE, **config}, "stacks/Pulumi.t.yaml", "t")
    assert info.value.key == key and problem in info.value.problem
    assert len(str(info.value)) < 500


def test_a_10000_domain_stack_is_within_the_bounds() -> None:
    # Issue 14's fleet: the loader's bounds must leave room for it (about 20% of MAX_NODES).
    lines = ["config:", "  lsctl:dns: {provider: route53}", "  lsctl:domains:"]
    for i in range(10_000):
        lines.append(f"    - {{fqdn: d{i}.example.com, zone: example.com, domainSid: DN{i:032x}, "
                     f"messagingServiceSids: [MG{i:032x}], fallbackUrl: https://example.com/x}}")
    data = parse_yaml("\n".join(lines) + "\n", "Pulumi.fleet.yaml")
    assert isinstance(data, dict) and len(data["config"]["lsctl:domains"]) == 10_000


def test_reading_is_bounded_even_for_endless_files() -> None:
    with pytest.raises(ConfigError, match=r"/dev/zero: is larger than 8 MiB"):
        read_text(Path("/dev/zero"))


def test_certificate_external_loads(tmp_path: Path) -> None:
    stack = load_stack_file(domain_stack(tmp_path, f"""\
        - {{fqdn: a.example.com, zone: example.com, domainSid: {GOOD_SID},
           certificate: external}}
        """))
    assert stack.domains[0].certificate == "external"
