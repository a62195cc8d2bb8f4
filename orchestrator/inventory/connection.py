"""How to reach a host, read from its merged variables in Ansible's or pyinfra's spelling.

Ansible inventories say `ansible_host`, `ansible_user`, `ansible_ssh_private_key_file` and pass
host-key settings as raw ssh options (`ansible_ssh_common_args: -o UserKnownHostsFile=...`);
pyinfra inventories say `ssh_hostname`, `ssh_user`, `ssh_key`, `ssh_known_hosts_file`. Both are
accepted; when a host has both, the pyinfra name wins, since that is what the connector receives.
Host keys are checked strictly unless the inventory says otherwise.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.values import Vaulted

if TYPE_CHECKING:
    from orchestrator.inventory.model import Inventory

_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f"})
_STRICT_VALUES = ("yes", "no", "off", "ask", "accept-new")
_SSH_CONNECTIONS = ("ssh", "smart", "paramiko", "paramiko_ssh")
_BECOME_METHODS = ("sudo", "su", "doas")


@dataclass(frozen=True)
class Connection:
    """Where and as whom orc connects to one inventory host."""

    name: str
    hostname: str
    port: int = 22
    user: str | None = None
    key_file: str | None = None
    password: str | None = None
    become: bool = False
    become_user: str | None = None
    become_method: str = "sudo"
    become_password: str | None = None
    known_hosts_file: str | None = None
    strict_host_key_checking: str = "yes"
    local: bool = False

    def pyinfra_data(self) -> dict[str, Any]:
        """Host data for pyinfra's ssh (or local) connector and its privilege arguments."""
        data: dict[str, Any] = {}
        if not self.local:
            data = {
                "ssh_hostname": self.hostname,
                "ssh_port": self.port,
                "ssh_user": self.user,
                "ssh_key": self.key_file,
                "ssh_password": self.password,
                "ssh_known_hosts_file": self.known_hosts_file,
                "ssh_strict_host_key_checking": self.strict_host_key_checking,
            }
        if self.become and self.become_method == "sudo":
            data |= {"_sudo": True, "_sudo_user": self.become_user,
                     "_sudo_password": self.become_password}
        elif self.become and self.become_method == "su":
            data |= {"_su_user": self.become_user or "root"}
        elif self.become:
            data |= {"_doas": True, "_doas_user": self.become_user}
        return {key: value for key, value in data.items() if value is not None}

    def pyinfra_host(self) -> tuple[str, dict[str, Any]]:
        """A (name, data) entry for a pyinfra inventory; the local machine is `@local` there."""
        return ("@local" if self.local else self.name), self.pyinfra_data()


class _Reader:
    """Looks up connection settings in one host's variables, naming the variable in errors."""

    def __init__(self, host: str, variables: dict[str, Any]):
        self.host = host
        self.variables = variables

    def fail(self, name: str, expected: str) -> InventoryError:
        return InventoryError(
            f"host {self.host!r}: {name} must be {expected}, got {self.variables[name]!r}"
        )

    def first(self, *names: str) -> tuple[str, Any] | tuple[None, None]:
        for name in names:
            value = self.variables.get(name)
            if value is not None:
                if isinstance(value, Vaulted):
                    raise InventoryError(
                        f"host {self.host!r}: {name} is vault-encrypted; keep secrets in orc's "
                        "secrets/ files instead"
                    )
                if isinstance(value, str) and "{{" in value:
                    raise InventoryError(
                        f"host {self.host!r}: {name} is a template ({value!r}); connection "
                        "variables must be plain values"
                    )
                return name, value
        return None, None

    def text(self, *names: str) -> str | None:
        name, value = self.first(*names)
        if name is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise self.fail(name, "a string")
        return str(value)

    def port(self, *names: str) -> int:
        name, value = self.first(*names)
        if name is None:
            return 22
        try:
            port = int(value)
        except (TypeError, ValueError):
            raise self.fail(name, "a port number") from None
        if not 0 < port < 65536 or isinstance(value, bool):
            raise self.fail(name, "a port number")
        return port

    def flag(self, *names: str) -> bool | None:
        name, value = self.first(*names)
        if name is None:
            return None
        if isinstance(value, bool):
            return value
        if str(value).lower() in _TRUE:
            return True
        if str(value).lower() in _FALSE:
            return False
        raise self.fail(name, "a boolean (yes/no, true/false)")

    def ssh_options(self) -> dict[str, str]:
        """`-o Key=Value` options from ansible_ssh_common_args/extra_args; the first one counts."""
        options: dict[str, str] = {}
        for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
            args = self.text(name)
            if not args:
                continue
            words = shlex.split(args)
            for index, word in enumerate(words):
                if word == "-o" and index + 1 < len(words):
                    option = words[index + 1]
                elif word.startswith("-o") and len(word) > 2:
                    option = word[2:]
                else:
                    continue
                key, _, value = option.replace("=", " ", 1).partition(" ")
                options.setdefault(key.strip().lower(), value.strip())
        return options


def connection_from_vars(name: str, variables: dict[str, Any]) -> Connection:
    read = _Reader(name, variables)
    kind = read.text("ansible_connection") or "ssh"
    if kind != "local" and kind not in _SSH_CONNECTIONS:
        raise read.fail("ansible_connection", "ssh or local")
    options = read.ssh_options()
    known_hosts = read.text("ssh_known_hosts_file")
    if known_hosts is None and options.get("userknownhostsfile"):
        known_hosts = shlex.split(options["userknownhostsfile"])[0]
    strict = read.text("ssh_strict_host_key_checking") or options.get("stricthostkeychecking")
    if strict is None and read.flag("ansible_host_key_checking") is False:
        strict = "no"
    strict = (strict or "yes").lower()
    if strict not in _STRICT_VALUES:
        raise InventoryError(
            f"host {name!r}: StrictHostKeyChecking must be one of {', '.join(_STRICT_VALUES)}, "
            f"got {strict!r}"
        )
    method = read.text("ansible_become_method") or "sudo"
    if method not in _BECOME_METHODS:
        raise read.fail("ansible_become_method", "sudo, su or doas")
    return Connection(
        name=name,
        hostname=read.text("ssh_hostname", "ansible_host", "ansible_ssh_host") or name,
        port=read.port("ssh_port", "ansible_port", "ansible_ssh_port"),
        user=read.text("ssh_user", "ansible_user", "ansible_ssh_user"),
        key_file=read.text("ssh_key", "ansible_ssh_private_key_file", "ansible_private_key_file"),
        password=read.text("ssh_password", "ansible_password", "ansible_ssh_pass",
                           "ansible_ssh_password"),
        become=bool(read.flag("_sudo", "ansible_become", "ansible_sudo")),
        become_user=read.text("_sudo_user", "ansible_become_user", "ansible_sudo_user"),
        become_method=method,
        become_password=read.text("_sudo_password", "ansible_become_password",
                                  "ansible_become_pass"),
        known_hosts_file=known_hosts,
        strict_host_key_checking=strict,
        local=kind == "local",
    )


def connection_for(inventory: Inventory, name: str) -> Connection:
    """The connection settings of inventory host `name`, from its merged variables."""
    return connection_from_vars(name, inventory.host_vars(name))
