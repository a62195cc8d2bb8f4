"""A role written in Python: pyinfra operations inside a @deploy function, with orc's variables."""

from io import StringIO

from pyinfra.api import deploy
from pyinfra.operations import files, server


@deploy("motd from Python")
def motd(variables):
    server.group(name="py-group", group="pyrole")
    files.put(
        name="python motd",
        src=StringIO(f"{variables['inventory_hostname']}: {variables['motd_text']}\n"),
        dest="/etc/motd.d/orc-python",
        mode="644",
    )
