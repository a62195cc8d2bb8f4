"""The engine: a play's tasks run in Ansible's order on every host of a batch, each task's result
registered before a later task, `when:` or include reads it, on top of pyinfra (its operations,
facts and connector are the only way hosts are touched).
"""
