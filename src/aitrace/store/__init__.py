"""Where steps live and how bytes are named: the workspace, digests, configuration, safe files.

``workspace`` is the embedded, file-based record store (append-only, hash-chained, crash- and
concurrency-safe); ``digest`` hashes files and directories with a cache; ``config`` reads
``aitrace.yaml``; ``files`` writes atomically. Nothing here knows about evidence or signing.
"""
