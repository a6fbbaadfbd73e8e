"""Machinery every Haolin process shares: settings, database, errors, auth, paging, crypto, counting contract.

Nothing here owns a table or a business rule, and nothing here imports from
`services/` or `gateway/`: dependencies point toward shared/.
"""
