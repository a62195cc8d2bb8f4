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
    address come from Dask's configuration: `distributed.comm.tls.*`). Raises `ClusterError`
    when nothing answers there, `SetupError` when Dask is not installed."""
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
        raise ClusterError(f"--cluster {address}: no Dask scheduler answered within "
                           f"{timeout:g}s ({one_line(exc)}); expected one started with "
                           "`dask scheduler`") from None
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
