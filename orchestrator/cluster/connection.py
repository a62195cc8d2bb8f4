"""The controller's connection to the Dask scheduler, and the workers that can run shards."""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.cluster.address import parse_address
from orchestrator.engine.failures import one_line
from orchestrator.errors import ClusterError, SetupError

CONNECT_TIMEOUT = 5.0  # seconds to wait for the scheduler's answer


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A `distributed.Client` of the scheduler at `address` (TLS settings for a `tls://`
    address come from Dask's configuration: `distributed.comm.tls.*`, see Dask's "TLS/SSL"
    page). Raises `ClusterError` when no scheduler answers there within `timeout` seconds or
    the TLS handshake fails, `SetupError` when Dask is not installed."""
    parse_address(address)
    try:
        from distributed import Client
    except ImportError as exc:
        raise SetupError("--cluster needs Dask distributed: pip install 'orchestrator[cluster]'"
                         ) from exc
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the failure is said once, as orc's error
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, a TLS or version error
        expected = ("expected a scheduler started with `dask scheduler` listening there"
                    if not address.startswith("tls://") else
                    "expected a TLS scheduler there and Dask's TLS settings for orc: "
                    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT, ..._CLIENT__KEY")
        raise ClusterError(f"--cluster {address}: cannot connect to a Dask scheduler "
                           f"({one_line(exc)}); {expected}") from None
    finally:
        quiet.setLevel(level)


def shard_workers(client: Any, address: str) -> list[str]:
    """The addresses of the workers a wave's shards go to, sorted (the split is stable).
    Raises `ClusterError` when there is none."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        raise ClusterError(f"--cluster {address}: the scheduler has no workers; expected at "
                           f"least one started with `dask worker {address}`")
    return sorted(workers)
