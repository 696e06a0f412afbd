"""The archive tier: object stores (`stores`), AES-256-GCM (`crypto`), the Parquet format
(`format`), manifests and crash repair (`manifest`), archiving a month (`writer`), reading
files back (`reader`) and what a person does with them: `restore` (days back into main),
`drill` (restore into a scratch schema and compare), `maintenance` (verify, purge, rekey,
inventory), `pins` (restored days held in main).

May import `pg`, `config` and `errors`; it is told which stores are down, it never asks.
"""
