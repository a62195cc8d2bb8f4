# scale: its commands on the path of login shells
export PATH="$PATH:/opt/scale/bin"
