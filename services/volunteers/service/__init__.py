"""Rules beyond CRUD: registration, the hours lifecycle, certificates, roster imports and counting."""
