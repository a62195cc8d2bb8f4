"""A pyinfra State for a set of inventory hosts: connected, with the reason for each host that
could not be reached, in the words `orc run` and `orc facts` use (`orchestrator.transport.remote`), and
the reason for one that went away after it was reached (`Session.lost`).

pyinfra's State cannot be run twice, so every apply (and later every wave) gets a fresh one.
pyinfra logs to stderr by default; orc renders its own output, so that logger is silenced here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gevent
from pyinfra.api import Config, State
from pyinfra.api import Inventory as PyinfraInventory
from pyinfra.api.exceptions import ConnectError, PyinfraError
from pyinfra.api.host import Host as PyinfraHost
from pyinfra.api.state import BaseStateCallback
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.connectors.sshuserclient.client import get_host_keys

from orchestrator.inventory import Inventory, connection_for
from orchestrator.transport import arguments as _arguments  # noqa: F401 - installs itself
from orchestrator.transport.hostdata import resolve_layers
from orchestrator.transport.remote import connect_reason, lost_reason

# pyinfra logs to stderr, and paramiko's transport thread logs a traceback when a port does not
# speak SSH; each failure is the host's reason instead, rendered once
for _name in ("pyinfra", "paramiko"):
    _log = logging.getLogger(_name)
    _log.addHandler(logging.NullHandler())
    _log.propagate = False


# hosts connected and worked on at once unless `--forks` says otherwise; the rollout's host
# locks take their connections as many at a time, since the waves then run over them
PARALLEL = 50


class _Events(BaseStateCallback):
    """Collects connection errors (as reasons) and forwards operation progress."""

    def __init__(self, session: Session):
        self.session = session

    def host_connect_error(self, state: State, host: PyinfraHost, error) -> None:  # type: ignore[override]
        message = error.args[0] if getattr(error, "args", None) else str(error)
        self.session.unreachable[host.name] = connect_reason(str(message))

    def operation_host_success(self, state, host, op_hash, retry_count=0) -> None:  # type: ignore[override]
        if self.session.on_op:
            self.session.on_op(host.name, op_hash, True)

    def operation_host_error(self, state, host, op_hash, retry_count=0, max_retries=0) -> None:  # type: ignore[override]
        if self.session.on_op:
            self.session.on_op(host.name, op_hash, False)


def connection_lost(host: PyinfraHost) -> str | None:
    """Why a connected host's SSH connection is gone (`remote.lost_reason`), None while it is
    up or for a host that is not reached over SSH (@local)."""
    return lost_reason(getattr(host.connector, "client", None))


@dataclass
class Session:
    state: State
    hosts: dict[str, PyinfraHost]  # connected hosts by inventory name
    unreachable: dict[str, str] = field(default_factory=dict)
    on_op: Callable[[str, str, bool], None] | None = None

    def lost(self, name: str) -> str | None:
        """Why host `name`, connected when the session opened, cannot be reached now (None:
        it can), so a step that failed because its host vanished is reported unreachable."""
        host = self.hosts.get(name)
        return connection_lost(host) if host is not None else None


def open_session(inventory: Inventory, names: list[str], *, parallel: int | None = None,
                 connect_timeout: int = 10,
                 on_op: Callable[[str, str, bool], None] | None = None,
                 connections: Mapping[str, Any] | None = None) -> Session:
    """Connect to `names` and return the pyinfra State holding the ones that answered.
    `connections`: open SSH connections by host name (fabric's, as the rollout's host locks
    hold them, `orchestrator.transport.remote`); a host with a live one is not connected
    again: its pyinfra connector runs over that connection (`adopt`)."""
    # pyinfra keeps each known_hosts file it parsed for the life of the process; a wave reads
    # them afresh, so a host re-keyed since the last session (a recreated host whose new key
    # is in the file now) is checked against the file as it is
    get_host_keys.cache.clear()
    entries = []
    for name in names:
        data = connection_for(inventory, name).pyinfra_data()
        data.setdefault("ssh_connect_timeout", connect_timeout)
        entries.append((name, data))
    config = Config(PARALLEL=parallel or min(PARALLEL, max(1, len(names))))
    state = State(PyinfraInventory((entries, {})), config)
    for host in state.inventory:
        resolve_layers(host)
    session = Session(state, {}, on_op=on_op)
    state.add_callback_handler(_Events(session))
    hosts = list(state.inventory)
    jobs = {state.pool.spawn(connect, host, (connections or {}).get(host.name)): host
            for host in hosts}
    gevent.joinall(list(jobs))
    failed = set()
    for job, host in jobs.items():
        if job.value is None and host.connected:
            state.activate_host(host)
            session.hosts[host.name] = host
        else:
            failed.add(host)
            session.unreachable.setdefault(host.name, connect_reason(job.value or "unreachable"))
    try:
        state.fail_hosts(failed, activated_count=len(hosts))
    except PyinfraError:
        pass  # every host failed to connect: each has its reason in `unreachable`
    return session


def adopt(host: PyinfraHost, connection: Any) -> bool:
    """Let `host`'s SSH connector run over `connection` (a fabric Connection to the same host
    and user, its host key checked against the same known_hosts) while it is up: pyinfra's
    connector holds nothing of a connection but its paramiko client (`SSHConnector.client`),
    so a second handshake to a host orc already holds is spared. False: nothing adopted."""
    client = getattr(connection, "client", None)
    transport = client.get_transport() if client is not None else None
    if not isinstance(host.connector, SSHConnector) or transport is None or (
            not transport.is_active()):
        return False
    host.connector.client = client
    host.connected = True
    return True


def connect(host: PyinfraHost, connection: Any = None) -> str | None:
    """Connect one host (over `connection` when it is up, `adopt`): None when it answered,
    else why not, in one line. A connector fails with more than ConnectError (a missing or
    unreadable key file is a PyinfraError, a missing known_hosts an OSError); each is the
    host's failure, returned as a value so gevent never prints it as a traceback."""
    if connection is not None and adopt(host, connection):
        return None
    try:
        host.connect(show_errors=False, raise_exceptions=True)
    except ConnectError as exc:
        return str(exc.args[0] if exc.args else exc)
    except Exception as exc:  # noqa: BLE001 - whatever the connector raised, the host failed
        return f"{exc}" if isinstance(exc, PyinfraError) else f"{type(exc).__name__}: {exc}"
    return None
