"""Identity rules beyond CRUD: who may do what where, tree moves, logins and token rotation."""
