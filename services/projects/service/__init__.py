"""Rules beyond CRUD: idempotent creates, attendance, project lifecycle and progress, counting."""
