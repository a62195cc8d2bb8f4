"""Loading: what users write (playbooks, roles, tasks, variable files, extra vars), read and
checked whole before any host is touched.

Everything here is a pure function of files and arguments; a broken input fails here with its
file and line. The engine runs what this package returns.
"""
