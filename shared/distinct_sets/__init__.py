"""Distinct sets kept by ancestor station and month, built when read and checked by a change counter.

Four figures count each member once (persons, stations.active, staff.active_workers,
volunteers.active), so they cannot be summed from the rows of shared.rollup; read from the per-station
rows, their cost grows with the subtree (docs/performance.md). So each service that answers them
keeps, per (node, month, kind), the set of the node's whole subtree in that month (`distinct_set`):
`everyone`, a portable Roaring bitmap, and for persons the set of each population (`populations`,
`members`, aligned arrays). A set is not kept by the writes (a member leaves it only when their last
record under the node in that month goes, and every write would have to rewrite the province's
sets): it is built by the first reader that finds it missing or stale, and kept for the next.

Stale is judged by two numbers stored with the set and read again with it, in one snapshot:

- `changes`: the sum of the rollup's `changes` (folded and pending) over the node's month rows of the SET_COUNTERS
  metrics (everyone). The rollup's trigger raises it on every row a write touches, whatever the
  sign, and a rebuild keeps it, so it only grows; every change to a set passes through one of those
  rows (shared.rollup._sorted_keys). Equal numbers therefore mean an equal set.
- `tree`: the station replica's highest change number: any change to the tree (a move above all)
  makes every kept set stale, though a move's path rewrite moves `changes` as well.

A reader (`read.read_months`, and `read.read_children` for a breakdown) asks for the whole months of
its range: it reads the counters, the kept sets and the replica in one REPEATABLE READ snapshot,
builds the missing or stale months in that same snapshot (from the subtree's rows, or from the kept
sets below and the stations' own records), and answers from them; the partial months at the range's
edges are read from the rows as before. After the snapshot it stores what it built on the primary
(`store.store`), keeping whichever of two concurrent builds has the larger numbers (an upsert, rows in
key order: concurrent readers neither deadlock nor fail). A build stored from a standby's snapshot is
as good as one from the primary's: its numbers are those of that snapshot. docs/rollups.md.

The package: `model` (the table, the kinds and the shape of a month's sets), `read` (what a reader
does in its snapshot), `store` (keeping what it built, and the SQL `haolin rollups` checks them by).
"""

from shared.distinct_sets.model import (PERSONS, STATIONS, VOLUNTEERS, WORKERS, Kept, MonthSets, bitmap_of,
                                        distinct_set_model)
from shared.distinct_sets.read import month_end, read_children, read_months, snapshot, split, usable
from shared.distinct_sets.store import keep_sessions, kept_sql, stale_sql, store

__all__ = ["PERSONS", "STATIONS", "VOLUNTEERS", "WORKERS", "Kept", "MonthSets", "bitmap_of", "distinct_set_model",
           "keep_sessions", "kept_sql", "month_end", "read_children", "read_months", "snapshot", "split", "stale_sql",
           "store", "usable"]
