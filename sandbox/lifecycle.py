"""Bring the sandbox up and down; the CLI, the demo and the pytest fixtures all use this."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from linkshortening.common.files import write_atomic
from linkshortening.dns.rfc2136 import Endpoint, TsigKey
from sandbox import bind, moto_server, pebble, process
from sandbox.process import ServiceError, Started
from sandbox.tls import write_listener_tls
from sandbox.twilio_emulator import launch as twilio_emulator

STATE_FILE = "state.json"
RENEWER_STATE = "renewer-state"
STALE_ADDRESS = "127.0.0.2"
START_TIMEOUT = 30.0
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


@dataclass
class SandboxState:
    """What a running sandbox is: where its files are, its ports and its processes."""

    directory: str
    zones: list[str]
    dns_port: int
    acme_port: int
    acme_management_port: int
    aws_port: int
    tsig_key_name: str
    tsig_algorithm: str
    services: list[Started] = field(default_factory=list)
    twilio_port: int = 0
    edge_port: int = 0  # the emulator's "port 443": each domain's current certificate
    twilio_account_sid: str = ""
    twilio_api_key_sid: str = ""
    # What it was started to serve, so a second `lsctl sandbox up` can tell whether it fits.
    stale_zones: list[str] = field(default_factory=list)
    twilio_domains: dict[str, str] = field(default_factory=dict)  # DomainSid -> domain
    # lsctl:twilioAccounts seeded into the emulator: env prefix -> [Account SID, API key SID]
    # (sandbox.accounts); the API key secrets are files, exported like the auth token.
    twilio_accounts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.directory)

    @property
    def dns(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.dns_port)

    @property
    def ca_bundle(self) -> Path:
        """Trust anchor for the ACME listener's TLS certificate."""
        return self.path / "tls" / "ca.pem"

    @property
    def pebble_root(self) -> Path:
        """Pebble's issuing root: what the sandbox's certificates chain up to."""
        return self.path / "pebble-root.pem"

    @property
    def tsig_secret_file(self) -> Path:
        return self.path / "tsig.secret"

    @property
    def twilio_auth_token_file(self) -> Path:
        return self.path / "twilio-auth-token"

    @property
    def twilio_api_secret_file(self) -> Path:
        return self.path / "twilio-api-secret"

    @property
    def twilio_base_url(self) -> str:
        """The Twilio emulator, standing in for https://messaging.twilio.com."""
        return twilio_emulator.base_url(self.twilio_port)

    @property
    def acme_directory(self) -> str:
        return pebble.directory_url(self.acme_port)

    @property
    def aws_endpoint(self) -> str:
        return moto_server.endpoint(self.aws_port)

    def tsig_key(self) -> TsigKey:
        return TsigKey(self.tsig_key_name, self.tsig_algorithm,
                       self.tsig_secret_file.read_text().strip())

    def env(self) -> dict[str, str]:
        """Variables that point lsctl, boto3 and the ACME client at the sandbox (no secrets)."""
        return {
            "LSCTL_SANDBOX_DIR": self.directory,
            "LSCTL_RFC2136_SERVER": str(self.dns),
            "LSCTL_DNS_RESOLVER": str(self.dns),
            # The sandbox zones' NS records point at 127.0.0.1; this is BIND's port there.
            "LSCTL_AUTHORITATIVE_PORT": str(self.dns_port),
            "LSCTL_TSIG_SECRET_FILE": str(self.tsig_secret_file),
            "LSCTL_ACME_DIRECTORY": self.acme_directory,
            "LSCTL_ACME_CA_BUNDLE": str(self.ca_bundle),
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            **moto_server.AWS_ENV,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "LSCTL_TWILIO_BASE_URL": self.twilio_base_url,
            "LSCTL_TWILIO_CA_BUNDLE": str(self.ca_bundle),
            # Where the drift checker looks at served certificates (Twilio's IPs are not here).
            "LSCTL_TLS_ENDPOINT": f"127.0.0.1:{self.edge_port}",
            **{f"{prefix}_{name}": value for prefix, (sid, key) in self.twilio_accounts.items()
               for name, value in (("ACCOUNT_SID", sid), ("API_KEY", key))},
        }

    def secret_files(self) -> dict[str, Path]:
        """Secret variables and the files holding them: exported by `cat`, never printed."""
        return {"TWILIO_AUTH_TOKEN": self.twilio_auth_token_file,
                **{f"{prefix}_API_SECRET": self.account_secret_file(prefix)
                   for prefix in self.twilio_accounts}}

    def account_secret_file(self, env_prefix: str) -> Path:
        """The API key secret of a seeded lsctl:twilioAccounts account (sandbox.accounts)."""
        return self.path / "twilio-accounts" / f"{env_prefix}.secret"

    def save(self) -> None:
        write_atomic(self.path / STATE_FILE, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> SandboxState:
        path = directory / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ServiceError(f"no sandbox is running in {directory} (no {STATE_FILE}); "
                               "start one with `lsctl sandbox up`") from None
        except (OSError, ValueError) as exc:
            raise ServiceError(f"{path} is unreadable ({exc}); run `lsctl sandbox down` "
                               "and `lsctl sandbox up` again") from None
        data["services"] = [Started(**s) for s in data.get("services", [])]
        return cls(**data)


def exported_names(state: SandboxState | None = None) -> tuple[str, ...]:
    """Every variable `lsctl sandbox env` exports, known without a running sandbox (for
    `lsctl sandbox env --unset` after `lsctl sandbox down`); with `state`, its seeded
    accounts' PREFIX_* variables too."""
    blank = SandboxState("", [], 0, 0, 0, 0, "", "",
                         twilio_accounts=state.twilio_accounts if state else {})
    return (*blank.env(), *blank.secret_files())


def shell_exports(env: Mapping[str, str], unset: tuple[str, ...] = (),
                  secret_files: Mapping[str, Path] | None = None) -> str:
    """`export` lines for `eval "$(lsctl sandbox env)"`; secrets are read from their files by
    the shell that evaluates them, so the text itself holds none."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines += [f'export {k}="$(cat {shlex.quote(str(path))})"'
              for k, path in (secret_files or {}).items()]
    lines += [f"unset {name}" for name in unset]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SandboxOptions:
    zones: tuple[str, ...]
    attached: bool = True  # False for `lsctl sandbox up`, whose services outlive it
    pebble_env: Mapping[str, str] = field(default_factory=dict)  # fault knobs for tests
    pebble_eab_keys: Mapping[str, str] = field(default_factory=dict)  # kid -> HMAC: EAB on
    # The Twilio emulator: its fault knobs (sandbox.twilio_emulator.knobs.Knobs) and the
    # domains it knows as verified (DomainSid -> domain name), e.g. a stack's.
    twilio_faults: Mapping[str, object] = field(default_factory=dict)
    twilio_domains: Mapping[str, str] = field(default_factory=dict)
    # Zones that get a second nameserver (127.0.0.2) serving a copy that is never updated.
    stale_zones: tuple[str, ...] = ()


def up(directory: Path, options: SandboxOptions) -> SandboxState:
    """Start BIND 9, Pebble, moto and the Twilio emulator; return once every one answers.

    Stops all on failure."""
    if not options.zones:
        raise ServiceError("the sandbox needs at least one zone to serve")
    existing = _running_state(directory)
    if existing is not None:
        raise ServiceError(f"a sandbox is already running in {directory}; "
                           "`lsctl sandbox down` first")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    # A new sandbox has a new Pebble root: what a renewer kept from an earlier sandbox
    # (stacks/Pulumi.sandbox.yaml keeps it here) chains to nothing the emulator trusts.
    shutil.rmtree(directory / RENEWER_STATE, ignore_errors=True)
    key = bind.new_tsig_key()
    write_atomic(directory / "tsig.secret", key.secret + "\n")
    twilio = twilio_emulator.Credentials.new()
    state = SandboxState(str(directory.resolve()), list(options.zones), 0, 0, 0, 0,
                         key.name, key.algorithm, twilio_account_sid=twilio.account_sid,
                         twilio_api_key_sid=twilio.api_key_sid,
                         stale_zones=list(options.stale_zones),
                         twilio_domains=dict(options.twilio_domains))
    write_atomic(state.twilio_auth_token_file, twilio.auth_token + "\n")
    write_atomic(state.twilio_api_secret_file, twilio.api_secret + "\n")
    try:
        _start_bind(state, key, options)
        _start_pebble(state, options)
        _start_moto(state, options)
        _start_twilio(state, options)
    except BaseException:
        _stop_all(state)
        raise
    state.save()
    return state


def _start_with_retries(name: str, attempt_start: Callable[[], None]) -> None:
    last: ServiceError | None = None
    for _ in range(START_ATTEMPTS):
        try:
            attempt_start()
            return
        except ServiceError as exc:
            last = exc
    raise ServiceError(f"{name} did not start after {START_ATTEMPTS} attempts: {last}")


def _launch(state: SandboxState, name: str, argv: list[str], options: SandboxOptions,
            env: Mapping[str, str] | None = None) -> Started:
    log = state.path / "logs" / f"{name}.log"
    _, started = process.start(name, argv, log, env=env, cwd=state.path,
                                  attached=options.attached)
    state.services.append(started)
    return started


def _ready_or_stop(state: SandboxState, started: Started, check: Callable[[], bool],
                   name: str) -> None:
    try:
        process.wait_until(check, START_TIMEOUT, name,
                           alive=lambda: process.is_running(started), log=Path(started.log))
    except ServiceError:
        process.stop(started)
        state.services.remove(started)
        raise


def _start_bind(state: SandboxState, key: TsigKey, options: SandboxOptions) -> None:
    def attempt() -> None:
        state.dns_port = process.free_port()
        conf = bind.write_config(state.path / "bind", options.zones, key, state.dns_port,
                                 two_server_zones=options.stale_zones)
        started = _launch(state, "named", bind.argv(conf), options)
        _ready_or_stop(state, started, lambda: bind.serves(state.dns_port, options.zones[0]),
                       "BIND 9 (named)")
        if options.stale_zones:
            # A second authoritative server on 127.0.0.2, same port, that never takes
            # updates: what a lagging secondary looks like to the drift checker.
            _loopback_address(STALE_ADDRESS)
            conf = bind.write_config(state.path / "bind-stale", options.stale_zones, key,
                                     state.dns_port, address=STALE_ADDRESS,
                                     two_server_zones=options.stale_zones, updatable=False)
            stale = _launch(state, "named-stale", bind.argv(conf), options)
            _ready_or_stop(state, stale, lambda: bind.serves(
                state.dns_port, options.stale_zones[0], STALE_ADDRESS), "stale BIND 9")

    _start_with_retries("BIND 9 (named)", attempt)


def _loopback_address(address: str) -> None:
    """named listens only on interface addresses: give `lo` this one (a no-op if it has it)."""
    shown = subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True,
                           text=True, check=False)
    if f"inet {address}/" in shown.stdout:
        return
    added = subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"],
                           capture_output=True, text=True, check=False)
    if added.returncode != 0:
        raise ServiceError(f"cannot add {address} to the loopback interface for the stale "
                           f"nameserver ({added.stderr.strip()}); run as root")


def _start_pebble(state: SandboxState, options: SandboxOptions) -> None:
    _, cert, key = write_listener_tls(state.path / "tls")

    def attempt() -> None:
        state.acme_port = process.free_port()
        state.acme_management_port = process.free_port()
        config = pebble.write_config(state.path, state.acme_port, state.acme_management_port,
                                     cert, key, (process.free_port(), process.free_port()),
                                     options.pebble_eab_keys)
        env = {**pebble.base_env(), **options.pebble_env}
        started = _launch(state, "pebble", pebble.argv(config, state.dns_port), options, env)
        _ready_or_stop(state, started, lambda: pebble.serves(state.acme_port, state.ca_bundle),
                       "Pebble")

    _start_with_retries("Pebble", attempt)
    write_atomic(state.pebble_root, pebble.fetch_root(state.acme_management_port, state.ca_bundle),
                 mode=0o644)


def _start_moto(state: SandboxState, options: SandboxOptions) -> None:
    def attempt() -> None:
        state.aws_port = process.free_port()
        started = _launch(state, "moto", moto_server.argv(state.aws_port), options,
                          moto_server.AWS_ENV)
        _ready_or_stop(state, started, lambda: moto_server.serves(state.aws_port), "moto server")

    _start_with_retries("moto server", attempt)


def _start_twilio(state: SandboxState, options: SandboxOptions) -> None:
    # After BIND (ValidateDns asks it) and Pebble (uploads must chain to Pebble's root).
    tls = state.path / "tls"

    def attempt() -> None:
        state.twilio_port = process.free_port()
        state.edge_port = process.free_port()
        settings = twilio_emulator.Settings(
            state.twilio_port, str(tls / "listener.pem"), str(tls / "listener.key"),
            state.twilio_account_sid, str(state.twilio_auth_token_file),
            state.twilio_api_key_sid, str(state.twilio_api_secret_file),
            (state.dns.host, state.dns.port), [str(state.pebble_root)],
            dict(options.twilio_domains), dict(options.twilio_faults), state.edge_port,
            str(tls / "ca.pem"), str(tls / "ca.key"),
        ).write(state.path / "twilio-emulator.json")
        started = _launch(state, "twilio", twilio_emulator.argv(settings), options)
        _ready_or_stop(state, started,
                       lambda: twilio_emulator.serves(state.twilio_port, state.ca_bundle),
                       "Twilio emulator")

    _start_with_retries("Twilio emulator", attempt)


def _stop_all(state: SandboxState) -> None:
    for started in reversed(state.services):
        process.stop(started)


def _running_state(directory: Path) -> SandboxState | None:
    try:
        state = SandboxState.load(directory)
    except ServiceError:
        return None
    return state if any(process.is_running(s) for s in state.services) else None


def reuse(directory: Path, options: SandboxOptions) -> SandboxState | None:
    """The sandbox already running in `directory`, if it can serve what `options` ask for
    (its Twilio emulator is told about domains it does not know yet); None when none runs.

    A sandbox that runs only in part, or without a zone asked for, is refused with the fix."""
    state = _running_state(directory)
    if state is None:
        return None
    stopped = [s.name for s in state.services if not process.is_running(s)]
    if stopped:
        raise ServiceError(f"the sandbox in {directory} runs only in part ({', '.join(stopped)} "
                           "stopped); `lsctl sandbox down`, then `lsctl sandbox up` again")
    missing = [z for z in options.zones if z not in state.zones]
    if missing or sorted(options.stale_zones) != sorted(state.stale_zones):
        wanted = ", ".join(missing) if missing else \
            f"stale zones {', '.join(options.stale_zones) or '(none)'}"
        raise ServiceError(f"the sandbox running in {directory} serves {', '.join(state.zones)}"
                           f" (stale zones: {', '.join(state.stale_zones) or 'none'}), not "
                           f"{wanted}; `lsctl sandbox down` first, or use another --dir")
    new = {sid: name for sid, name in options.twilio_domains.items()
           if state.twilio_domains.get(sid) != name}
    if new:
        from sandbox.twilio_emulator.control import EmulatorControl

        EmulatorControl(state.twilio_base_url, state.ca_bundle, state.twilio_account_sid,
                        state.twilio_auth_token_file).seed(new)
        state.twilio_domains.update(new)
        state.save()
    return state


def down(directory: Path) -> list[str]:
    """Stop every service of the sandbox in `directory`; return the names stopped."""
    state = SandboxState.load(directory)
    stopped = [s.name for s in state.services if process.is_running(s)]
    _stop_all(state)
    (directory / STATE_FILE).unlink(missing_ok=True)
    return stopped


def status(directory: Path) -> list[tuple[str, int, bool]]:
    """(service, pid, running) for each service of the sandbox in `directory`."""
    state = SandboxState.load(directory)
    return [(s.name, s.pid, process.is_running(s)) for s in state.services]


@contextmanager
def running(directory: Path, options: SandboxOptions) -> Iterator[SandboxState]:
    """A sandbox for the duration of a `with` block (tests, demo)."""
    state = up(directory, options)
    try:
        yield state
    finally:
        down(directory)
