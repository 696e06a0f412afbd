"""`persys init`: from "I have a Supabase project" to a commented persys.yaml.

`inspect` reads the person's database (read-only), `policy` sizes a lifecycle policy with its
forecast, `metrics` guesses the daily metrics from names and types, `render` writes the file,
`draft` puts them together.

May import `pg`, `config`, `monitoring.units`, `dsn` and `errors`.
"""
