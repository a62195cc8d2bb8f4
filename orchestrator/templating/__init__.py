"""Jinja as Ansible users write it: rendering (`render`), Ansible's filters and tests
(`filters`) and its lookup plugins (`lookups`), all on the controller."""
