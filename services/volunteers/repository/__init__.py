"""Every SQL statement of the volunteers service."""
