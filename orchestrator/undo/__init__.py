"""Undo: what a run changes is recorded on each host before it runs, and put back on request.

- `kinds/`: one module per kind of resource (path, package, service, account, sysctl, command,
  unsupported), each holding its capture, parse, summary, drift comparison and restore; the
  registry (`kinds/__init__.py`) is what the rest reads, `resources_of` included.
- `record.py`: the journal on the host (record, seal, read_batches, prune).
- `drift.py`: what changed since the run left a host.
- `restore.py`: a rollback of a run, host by host, through pyinfra operations.
"""
