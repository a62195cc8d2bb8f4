"""orc: apply Ansible-style roles through pyinfra in staged canary waves, and undo them."""

__version__ = "0.1.0"
