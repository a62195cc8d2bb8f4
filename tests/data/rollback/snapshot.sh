for p in /etc/app /opt/app /etc/systemd/system /etc/nginx /etc/environment /etc/motd /etc/sysctl.conf /etc/issue.net /home /srv /usr/local/bin /var/spool/cron /var/mail; do
  find "$p" -xdev -printf '%p %y %m %u %g %l\n' 2>/dev/null | sort
  find "$p" -xdev -type f -exec sha256sum {} + 2>/dev/null | sort
done
echo "== packages"; dpkg-query -W
echo "== units"; systemctl list-unit-files --type=service --no-legend --no-pager | sort
for u in app nginx cron ssh; do echo "$u $(systemctl is-active $u) $(systemctl is-enabled $u 2>/dev/null)"; done
echo "== users"; cat /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/subuid /etc/subgid 2>/dev/null
echo "== sysctl"; sysctl -n net.core.somaxconn
