"""The projections' speed machinery, kept apart from the folds, behind one switch.

The folds (`projections.folds`) and the runner's plain algorithm (`projections.runner`) are the
specification; everything here exists only for speed and writes exactly their rows. With
PERFLEDGER_ACCEL=0 none of it runs (`registry.enabled`).

- `registry`: which accelerators apply to which projection, and the switch;
- `base`: what an accelerator may do (`Accelerator`), and the plain default;
- `activity_in_store`, `followups_in_store` (with `in_store`): the SQL twins of those folds;
- `knowledge`: the knowledge blocks read from the ledger's entries instead of its events;
- `remembered`: the sales and trust folds' state carried from batch to batch;
- `holding`: a catch-up's batches held while another process writes, pages read ahead;
- `bulk`: a batch's rows written to PostgreSQL in bulk (COPY), not row by row;
- `rebuild`: a rebuild's query indexes built at the end, whole replays, the worker process.
- `side_reads`: a read's statements run beside it, on a second connection in its snapshot.
- `open_deals_in_sql`: reps' open deals gathered a rep a row on PostgreSQL (`array_agg`).
"""
