"""Every SQL statement of identity, one module per table."""
