"""The deterministic, signed archive of a record: its format, how it is written and read.

``_zip`` is the hostile-input boundary: every byte of an archive from a stranger is read through
it, and nothing else in aitrace parses ZIP files.
"""
