"""Recording what the user's code did: ``aitrace.stage()``, ``current_step()`` and ``aitrace run``.

``tracker`` records a stage in-process, ``runner`` wraps a command, ``child`` is the step seen
from inside that command, ``capture`` reads who/where/which code, and ``redact`` keeps secrets
out of everything captured. Evidence sources plug in through ``handle`` (the ``StepHandle``
protocol they are given); the hooks never name a source themselves.
"""
