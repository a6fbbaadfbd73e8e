"""Every SQL statement of the cases service."""
