"""The shared record store on PostgreSQL (``aitrace init --store postgresql://…``).

``schema`` creates the tables idempotently; ``store`` is the ``RecordStore`` over them.
"""
