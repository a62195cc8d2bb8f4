"""`--cluster`'s parts that need no cluster: the shard split, the merge of shard results, the
address check, the frames between the controller and its cluster client, and a scheduler
address where nothing listens (one line, exit code 1, nothing recorded, no host touched)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
from pathlib import Path

import pytest

from orchestrator import cluster
from orchestrator.cluster import frames
from orchestrator.cluster.address import parse_address
from orchestrator.cluster.merge import LOST, merge
from orchestrator.cluster.shards import Shard, split
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import HostResult, PlayResult, TaskResult
from orchestrator.errors import ClusterError
from tests.support.dask_cluster import LocalCluster
from tests.support.orc import ORC, REPO

HOSTS = [f"web{i}" for i in range(1, 8)]


@pytest.mark.parametrize("hosts, workers, sizes", [
    (HOSTS, ["w1", "w2"], [4, 3]),
    (HOSTS, ["w1", "w2", "w3"], [3, 2, 2]),
    (HOSTS[:2], ["w1", "w2", "w3"], [1, 1]),  # never an empty shard
    (HOSTS, ["w1"], [7]),
    ([], ["w1", "w2"], []),
])
def test_split_is_contiguous_even_and_in_wave_order(hosts, workers, sizes):
    shards = split(hosts, workers)
    assert [len(s.hosts) for s in shards] == sizes
    assert [h for s in shards for h in s.hosts] == hosts
    assert [s.worker for s in shards] == workers[:len(shards)]
    assert [s.index for s in shards] == list(range(len(shards)))


def test_split_without_workers_is_refused():
    with pytest.raises(ValueError):
        split(HOSTS, [])


def test_merge_keeps_wave_order_and_fails_lost_hosts_as_unreachable():
    shards = [Shard(0, "tcp://w1", ("a", "b")), Shard(1, "tcp://w2", ("c", "d"))]
    first = PlayResult("web", {"b": HostResult("b", [TaskResult("t", "x.yaml:1", "changed")]),
                               "a": HostResult("a")})
    merged = merge("web", shards, {0: first}, {0: "tcp://w1-real"}, {1: LOST})
    assert list(merged.hosts) == ["a", "b", "c", "d"]
    assert merged.hosts["b"].status == "changed"
    for host in ("c", "d"):
        assert merged.hosts[host].unreachable
        assert merged.hosts[host].reason == LOST
    assert merged.failed_hosts == ["c", "d"]
    assert merged.workers == {"a": "tcp://w1-real", "b": "tcp://w1-real", "c": "tcp://w2",
                              "d": "tcp://w2"}


def test_merge_fails_a_host_missing_from_its_shards_result():
    shards = [Shard(0, "tcp://w1", ("a", "b"))]
    merged = merge("web", shards, {0: PlayResult("web", {"a": HostResult("a")})},
                   {0: "tcp://w1"}, {})
    assert merged.hosts["b"].unreachable and merged.hosts["b"].reason == LOST
    assert not merged.hosts["a"].failed


@pytest.mark.parametrize("good", ["tcp://127.0.0.1:8786", "tls://sched.example:8786",
                                  "tcp://[::1]:8786"])
def test_scheduler_addresses(good):
    assert parse_address(good) == good


@pytest.mark.parametrize("bad", ["127.0.0.1:8786", "http://x:1", "tcp://x", "tcp://x:0",
                                 "tcp://x:port", "tcp://:1", "inproc://x:1"])
def test_bad_scheduler_addresses_name_the_address(bad):
    with pytest.raises(ClusterError, match="expected tcp://HOST:PORT"):
        parse_address(bad)


def test_frames_round_trip():
    stream = io.BytesIO()
    frames.write(stream, ("result", PlayResult("p", {"a": HostResult("a")}), {}))
    frames.write(stream, ("ready",))
    stream.seek(0)
    assert frames.read(stream)[1].hosts["a"].host == "a"
    assert frames.read(stream) == ("ready",)
    with pytest.raises(EOFError):
        frames.read(stream)


def test_cluster_is_kept_for_resume():
    options = RunOptions(cluster="tls://sched:8786")
    assert RunOptions.from_dict(options.to_dict()).cluster == "tls://sched:8786"
    assert RunOptions.from_dict({}).cluster is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("address, says", [
    (None, "cannot connect to a Dask scheduler"),
    ("127.0.0.1:8786", "not a scheduler address"),
])
def test_apply_with_no_scheduler_there_is_one_line_before_any_host(tmp_path, address, says):
    """Nothing listens at the address: one line naming it, exit code 1, no run recorded, and
    the host (whose address nothing answers either) is never tried."""
    address = address or f"tcp://127.0.0.1:{_free_port()}"
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(f"all:\n  hosts:\n    web1: {{ansible_host: 127.0.0.1, "
                         f"ansible_port: {_free_port()}}}\n")
    env = {**os.environ, "ORC_AGE_KEY_FILE": str(REPO / "secrets/example-keys/age.key")}
    proc = subprocess.run(
        [ORC, "apply",
         str(REPO / "site.yaml"), "-i", str(inventory), "--yes", "--ci", "--state-dir",
         str(tmp_path / "state"), "--cluster", address],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: --cluster {address}: ") and says in lines[0]
    assert not (tmp_path / "state" / "orc.db").exists()
    assert "web1" not in proc.stdout + proc.stderr


def _tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and one certificate (and key) it signed for 127.0.0.1, which every endpoint of the
    test's cluster presents (Dask's TLS is mutual)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("orc test CA")).issuer_name(
        name("orc test CA")).public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("orc test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return files


@pytest.mark.slow
def test_a_scheduler_without_workers_is_one_line(tmp_path):
    started = LocalCluster(tmp_path).start(workers=0)
    try:
        with pytest.raises(ClusterError, match="the scheduler has no workers") as caught:
            cluster.check(started.address)
        assert started.address in str(caught.value) and "\n" not in str(caught.value)
    finally:
        started.stop()


@pytest.mark.slow
def test_a_tls_cluster_is_reached_with_dasks_tls_configuration(tmp_path, monkeypatch):
    """`tls://` with the client certificate from Dask's configuration (the environment, as the
    README says) connects; without it, or over `tcp://`, it is one line naming the address."""
    ca, cert, key = _tls_files(tmp_path)
    started = LocalCluster(tmp_path).start(workers=1, tls=(ca, cert, key))
    try:
        assert started.address.startswith("tls://")
        with pytest.raises(ClusterError, match="Dask's TLS settings for orc"):
            cluster.check(started.address)  # no client certificate configured
        plain = started.address.replace("tls://", "tcp://")
        with pytest.raises(ClusterError, match="cannot connect to a Dask scheduler"):
            cluster.check(plain)
        monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", str(ca))
        monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT", str(cert))
        monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY", str(key))
        monkeypatch.setenv("DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION", "true")
        cluster.check(started.address)
        with pytest.raises(ClusterError):
            cluster.check(plain)  # encryption required: a tcp:// address is refused
    finally:
        started.stop()
