"""The way orc reaches hosts: pyinfra's State and SSH connector for runs (`session`), fabric for
ad-hoc commands (`remote`), with one wording for a host that cannot be reached."""
