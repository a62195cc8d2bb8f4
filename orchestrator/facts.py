"""Facts about hosts, read with pyinfra's own fact classes so `orc facts` and a rollout agree.

Users name facts with short words (`os`, `memory`, `packages`) or any pyinfra fact by its class
path (`pyinfra.facts.server.Command:command=uptime`). Names and arguments are checked before
any host is touched.

Hosts are read from a pool of threads, one host per thread. In the `orc` executable, which
patches the standard library with gevent, those threads are greenlets; imported unpatched, they
are real threads. pyinfra's own way (greenlets without the patch) would reach hosts one after
another: measured 1.6-2.2 s against 0.6 s for six facts on three hosts.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pyinfra.api import Config, Host, State
from pyinfra.api import Inventory as PyinfraInventory
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.facts import FactBase, ShortFactBase, get_fact
from pyinfra.context import ctx_host, ctx_state

from orchestrator.errors import InputError
from orchestrator.inventory import Inventory, connection_for
from orchestrator.transport.remote import connect_reason, lost_reason
from orchestrator.transport.session import connect

# friendly name -> (class under pyinfra.facts, what it tells)
KNOWN_FACTS: dict[str, tuple[str, str]] = {
    "os": ("server.LinuxDistribution", "distribution, version and os-release fields"),
    "kernel": ("server.KernelVersion", "kernel release"),
    "arch": ("server.Arch", "machine architecture"),
    "hostname": ("server.Hostname", "the host's own name"),
    "memory": ("hardware.Memory", "total memory in MiB"),
    "cpus": ("hardware.Cpus", "number of CPUs"),
    "uptime": ("server.Uptime", "seconds since boot"),
    "load": ("server.LoadAverage", "load averages over 1, 5 and 15 minutes"),
    "disks": ("hardware.BlockDevices", "mounted filesystems: size, used, available (df)"),
    "mounts": ("server.Mounts", "mount points with device, type and options"),
    "addresses": ("hardware.Ipv4Addrs", "IPv4 addresses by network interface"),
    "packages": ("deb.DebPackages", "installed Debian packages and their versions"),
    "services": ("systemd.SystemdStatus", "systemd units and whether each is running"),
    "enabled": ("systemd.SystemdEnabled", "systemd units and whether each is enabled"),
    "users": ("server.Users", "local users: uid, group, home, shell"),
    "groups": ("server.Groups", "local groups"),
    "file": ("files.File", "one path's type, mode, owner and size (file:path=/etc/hosts)"),
    "package": ("deb.DebPackage", "one Debian package (package:package=openssh-server)"),
}
DEFAULT_FACTS = ("os", "kernel", "hostname", "memory", "cpus", "uptime")
_PREFIX = "pyinfra.facts."


@dataclass(frozen=True)
class FactRequest:
    """One fact to read, as the user named it, with the arguments its command takes."""

    label: str
    fact_class: type
    kwargs: tuple[tuple[str, str], ...] = ()


@dataclass
class HostFacts:
    host: str
    facts: dict[str, Any] = field(default_factory=dict)  # label -> value as plain data
    errors: dict[str, str] = field(default_factory=dict)  # label -> why it could not be read
    error: str | None = None  # the host itself could not be reached

    @property
    def ok(self) -> bool:
        return self.error is None and not self.errors


def parse_request(text: str) -> FactRequest:
    """`memory`, `files.File:path=/etc/hosts` or `pyinfra.facts.server.Command:command=id`."""
    name, _, arguments = text.partition(":")
    kwargs = _parse_arguments(text, arguments)
    found = fact_class(name)
    _check_arguments(text, found, kwargs)
    return FactRequest(text, found, tuple(kwargs.items()))


def _parse_arguments(text: str, arguments: str) -> dict[str, str]:
    kwargs: dict[str, str] = {}
    # split on commas that start a new `key=`, so a value may itself hold commas
    for pair in re.split(r",(?=\s*\w+=)", arguments) if arguments else ():
        key, equals, value = pair.partition("=")
        if not equals or not key.strip().isidentifier():
            raise InputError(f"fact {text!r}: arguments are key=value pairs, got {pair!r}")
        kwargs[key.strip()] = value
    return kwargs


def fact_class(name: str) -> type:
    if name in KNOWN_FACTS:
        path = KNOWN_FACTS[name][0]
    elif "." in name:
        path = name.removeprefix(_PREFIX)
    else:
        near = difflib.get_close_matches(name, KNOWN_FACTS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise InputError(
            f"unknown fact {name!r}{hint} (known: {', '.join(KNOWN_FACTS)}, "
            f"or a pyinfra fact such as pyinfra.facts.server.Os)"
        )
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(_PREFIX + module_name)
    except ImportError:
        raise InputError(f"unknown fact {name!r}: pyinfra has no module "
                         f"{_PREFIX + module_name}") from None
    fact_class = getattr(module, class_name, None)
    if not (inspect.isclass(fact_class) and issubclass(fact_class, (FactBase, ShortFactBase))
            and fact_class not in (FactBase, ShortFactBase)):
        raise InputError(f"unknown fact {name!r}: {module.__name__} has no fact {class_name!r}")
    return fact_class


def _check_arguments(text: str, fact_class: type, kwargs: dict[str, str]) -> None:
    command = (fact_class.fact if issubclass(fact_class, ShortFactBase) else fact_class).command
    if not callable(command):
        command = lambda self: None  # noqa: E731  (a fact whose command is a plain string)
    signature = inspect.signature(command)
    try:
        signature.bind(None, **kwargs)
    except TypeError:
        takes = ", ".join(f"{p}=..." for p in list(signature.parameters)[1:]) or "no arguments"
        raise InputError(f"fact {text!r} takes {takes}") from None


def gather(
    inventory: Inventory,
    hosts: list[str],
    requests: list[FactRequest],
    *,
    timeout: float = 10.0,
    forks: int = 20,
) -> dict[str, HostFacts]:
    """Read every requested fact on every host; a host or fact that fails is a value, too."""
    entries = {name: connection_for(inventory, name).pyinfra_host() for name in hosts}
    return gather_from_pyinfra(entries, requests, timeout=timeout, forks=forks)


def gather_from_pyinfra(
    entries: dict[str, tuple[str, dict[str, Any]]],
    requests: list[FactRequest],
    *,
    timeout: float = 10.0,
    forks: int = 20,
) -> dict[str, HostFacts]:
    """The same from pyinfra inventory entries: orc host name -> (pyinfra name, host data)."""
    _silence_pyinfra()
    if not entries:
        return {}
    inventory = PyinfraInventory((list(entries.values()), {}))
    state = State(inventory, Config(CONNECT_TIMEOUT=max(1, round(timeout))))
    hosts = {name: inventory.get_host(pyinfra_name) for name, (pyinfra_name, _) in entries.items()}
    # the state is shared; each thread sets its own host (pyinfra keeps that per greenlet)
    with ctx_state.use(state), ThreadPoolExecutor(max(1, min(forks, len(hosts)))) as pool:
        results = list(pool.map(lambda item: _read_host(state, *item, requests), hosts.items()))
    return {result.host: result for result in results}


def _read_host(state: State, name: str, host: Host, requests: list[FactRequest]) -> HostFacts:
    result = HostFacts(name)
    with ctx_host.use(host):
        error = connect(host)
        if error is not None:
            result.error = connect_reason(error)
            return result
        try:
            for request in requests:
                value, error = _read_fact(state, host, request)
                gone = lost_reason(getattr(host.connector, "client", None))
                if gone is not None:  # not the fact's answer: the host went away
                    result.error = gone
                    return result
                if error is None:
                    result.facts[request.label] = value
                else:
                    result.errors[request.label] = error
        finally:
            host.disconnect()
    return result


def _read_fact(state: State, host: Host, request: FactRequest) -> tuple[Any, str | None]:
    _errors.start()
    try:
        value = get_fact(state, host, request.fact_class, kwargs=dict(request.kwargs))
    except PyinfraError:
        value = None  # "no hosts remaining": pyinfra's way to stop a deploy, not an answer
    except Exception as exc:  # a fact that breaks is this host's answer, not a crash
        return None, f"{type(exc).__name__}: {exc}"
    # pyinfra marks a host whose fact command failed as failed; take the mark back so the
    # next fact on this host is judged on its own
    if host in state.failed_hosts:
        state.failed_hosts.discard(host)
        details = [line for line in _errors.lines() if not line.startswith("Error")]
        return None, "could not read: " + (details[0] if details else "its command failed")
    return plain(value), None


def plain(value: Any) -> Any:
    """Fact values as JSON-ready data: sets sorted into lists, dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class _ErrorLines(logging.Handler):
    """Keeps what pyinfra logs as errors while a fact is read: the stderr of its command.

    Each host is read on its own thread, so the lines are kept per thread.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.local = threading.local()

    def start(self) -> None:
        self.local.lines = []

    def lines(self) -> list[str]:
        return getattr(self.local, "lines", [])

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is None:
            return
        text = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())
        text = re.sub(r"^\[[^\]]*\]\s*", "", text).strip()  # the `[host] ` prefix
        if text:
            lines.append(text)


_errors = _ErrorLines()


def _silence_pyinfra() -> None:
    """pyinfra logs to stderr for its own CLI; orc reports through its results instead."""
    logger = logging.getLogger("pyinfra")
    logger.propagate = False
    if _errors not in logger.handlers:
        logger.addHandler(_errors)


def known_facts() -> Iterable[tuple[str, str]]:
    return ((name, about) for name, (_, about) in KNOWN_FACTS.items())
