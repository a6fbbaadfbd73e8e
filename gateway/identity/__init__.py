"""Identity: the station tree, users, passwords and tokens."""
