"""Verify the common role on a converged host: packages, operator account, sysctl, files."""

import pytest


@pytest.mark.parametrize("name", ["less", "procps", "curl"])
def test_base_packages_are_installed(host, name):
    assert host.package(name).is_installed


def test_operator_account_is_in_the_operators_group(host):
    assert host.group("ops").exists
    deploy = host.user("deploy")
    assert deploy.group == "ops"
    assert deploy.shell == "/bin/bash"


def test_listen_backlog_is_raised(host):
    assert host.sysctl("net.core.somaxconn") == 1024


def test_environment_marker(host):
    assert "ORC_ENVIRONMENT=lab" in host.file("/etc/environment").content_string.splitlines()


def test_motd_names_the_host(host):
    motd = host.file("/etc/motd")
    assert motd.mode == 0o644
    assert motd.content_string.startswith(f"{host.backend.get_hostname()} (")
    assert "is managed by orc." in motd.content_string
