"""PostgreSQL, the bottom of the stack: the embedded server and tier handles (`tiers`), the
schema the project creates (`schema`), what day a row belongs to (`tables`), the move ledger
(`ledger`) and the one move protocol every tier-to-tier move follows (`protocol`).

May import `config` and `errors` only.
"""
