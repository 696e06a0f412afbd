"""The conservation oracle (the Jepsen method): the person's app writes uniquely keyed rows,
updates and deletes them, in autocommit, READ COMMITTED and REPEATABLE READ transactions,
while every route of the move engine runs in random order and is killed with SIGKILL at
random moments and at its declared crash points; a checker then proves every acknowledged
row is in exactly one place with its last value, or gone only by policy.

`world.World` builds the tiers and the config, `app` is the person's app, `routes` runs one
route (forked, killable), `checker` reads every tier (the archive's files included) and
compares.
"""
