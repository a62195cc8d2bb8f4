"""A real local Dask cluster for the `--cluster` tests: a scheduler and workers, each a process
of its own started with Dask's own `dask` command, as a user starts them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))


@dataclass
class LocalCluster:
    folder: Path
    address: str = ""
    scheduler: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start(self, workers: int, timeout: float = 60,
              tls: tuple[Path, Path, Path] | None = None) -> LocalCluster:
        """The scheduler on a free port (its address read from its --scheduler-file), then
        `workers` workers of one process and one thread each (no nanny: a killed worker stays
        dead), waiting until the scheduler has them all. `tls`: (CA, certificate, key) files
        every endpoint uses, for a cluster of `tls://` addresses."""
        scheduler_file = self.folder / "scheduler.json"
        secure = []
        if tls:
            secure = ["--tls-ca-file", str(tls[0]), "--tls-cert", str(tls[1]),
                      "--tls-key", str(tls[2])]
        self.scheduler = self._spawn("scheduler", [
            DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file),
            *(["--protocol", "tls", *secure] if tls else [])])
        deadline = time.monotonic() + timeout
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            self._check(deadline, "scheduler file")
        self.address = json.loads(scheduler_file.read_text())["address"]
        for index in range(workers):
            self.workers.append(self._spawn(f"worker{index}", [
                DASK, "worker", self.address, "--nworkers", "1", "--nthreads", "1",
                "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", *secure]))
        while len(self.worker_addresses()) < workers:
            self._check(deadline, f"{workers} workers")
        return self

    def worker_addresses(self) -> dict[str, int]:
        """Each worker's address, by the pid of its process (read from the workers' logs)."""
        found = {}
        for index, process in enumerate(self.workers):
            for line in (self.folder / f"worker{index}.log").read_text().splitlines():
                if "Start worker at:" in line:
                    found[line.split("Start worker at:")[1].strip()] = process.pid
        registered = [p for p in self.workers
                      if "Registered to:" in (self.folder / f"worker{self.workers.index(p)}.log"
                                              ).read_text()]
        return found if len(registered) == len(self.workers) else {}

    def kill_worker(self, address: str) -> None:
        os.kill(self.worker_addresses()[address], signal.SIGKILL)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - the process holds it
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                                start_new_session=True)

    def _check(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            logs = "\n".join(p.read_text()[-1500:] for p in self.folder.glob("*.log"))
            raise RuntimeError(f"the local Dask cluster did not start ({what}):\n{logs}")
        time.sleep(0.2)
