"""Rolling a playbook out: its hosts in canary waves, each applied, health-gated and baked; the
run's life in the controller's index (start, resume, abort, mark failed); the host locks; and
rolling a run back (hold its hosts, restore them, check their health again).

    run.py       the run's life and its waves (`start_run`, `resume_run`, `roll_out`, `abort_run`)
    waves.py     a play's hosts cut into waves (Ansible's `serial`, pinned canaries)
    health.py    running health checks and judging hosts by them
    locks.py     the rollout lock on each host (`/var/lib/orc/rollout.lock`)
    store.py     the run index in `.orc/orc.db`
    rollback.py  rolling a run back, by hand or when a wave fails

Nothing is imported here, so `orchestrator.rollout.locks` (which the undo code needs to free a
host's lock) does not pull in the whole rollout.
"""
