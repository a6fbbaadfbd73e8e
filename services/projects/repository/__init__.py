"""Every SQL statement of the projects service."""
