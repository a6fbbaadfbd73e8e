"""Rules beyond CRUD: idempotent creates, the case lifecycle, and the counting rules."""
