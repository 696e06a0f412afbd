"""Moving rows between tiers: what is due, asked of the data (`planner`), core→main moves
(`moves`), month partitions and space that comes back (`space`), one table's lifecycle run
(`lifecycle`) and reading a table's rows from whichever tiers hold them (`reader`).

May import `pg`, `archive`, `config` and `errors`.
"""
