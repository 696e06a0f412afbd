"""The move engine and its routes: every path that writes or deletes a person's rows.

`engine` (locks, ledger states, crash points) is the only code that takes a table's lock and
moves a ledger entry through its states; each other module is one route, handed tiers,
stores and table specs (never the config): core→main (`core_main`, `settle`), main→archive
(`main_archive`), archive→main (`archive_main`), backup→tier (`backup_restore`), retention
(`purge`), key rotation (`rekey`), a table made monthly-partitioned (`adopt`), DEFAULT→month
(`partition`), recomputed days (`rewrite`), an exported file's rows (`import_rows`, straight
into archive files by `import_archive`); `archive_repair` and `repair` make whole what a
killed run left. `registry` imports them all (the full list of crash points).

May import config, errors, pg, archive, backup; never tiering, daily, voice, monitoring.
"""
