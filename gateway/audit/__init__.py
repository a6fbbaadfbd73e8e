"""The gateway's audit log (its own writes, logins, tablet pulls) and the administrator's audit query."""
