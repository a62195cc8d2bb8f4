"""A Dask scheduler's address as `--cluster` takes it: `tcp://HOST:PORT`, or `tls://HOST:PORT`
for a cluster whose comms are encrypted (Dask's address form: distributed.comm.addressing)."""

from __future__ import annotations

from orchestrator.errors import ClusterError

SCHEMES = ("tcp", "tls")
EXPECTED = "expected tcp://HOST:PORT or tls://HOST:PORT, a Dask scheduler's address"


def parse_address(text: str) -> str:
    """`text` checked to be a scheduler address, as given. Raises `ClusterError` naming it."""
    scheme, sep, rest = text.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in SCHEMES or not colon or not host.strip("[]"):
        raise ClusterError(f"--cluster {text}: not a scheduler address; {EXPECTED}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"--cluster {text}: the port {port!r} is not a TCP port; {EXPECTED}")
    return text
