"""The record itself: the ten stages, the typed documents of a step, and their one JSON form.

Everything else in aitrace builds on this package and it depends on nothing else of aitrace
(only ``aitrace.errors``): ``stages`` lists the life cycle, ``models`` holds the frozen step and
record types, ``jsonio`` is the one home of canonical encoding and untrusted parsing, and
``completeness`` scores a record against what each stage should leave behind.
"""
