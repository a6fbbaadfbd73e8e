"""A station tablet's files (shared/attachments/tablet.py): uploaded through the gateway to the
service that owns the record's table, and fetched back from it, both as the device."""
