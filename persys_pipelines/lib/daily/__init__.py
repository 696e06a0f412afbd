"""The daily summary from the person's own tables, projections with bands, and charts.

May import `tiering` (the cross-tier reader), `pg`, `config` and `errors`.
"""
