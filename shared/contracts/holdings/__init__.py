"""What a station's subtree holds in a service: live records per kind and open work.

The gateway owns the station tree but never reads a service's tables; before it deletes a
station it asks every service this, and refuses while anything is held (a deleted station's
records would drop out of every breakdown and report row while still counting in the totals).
"""
