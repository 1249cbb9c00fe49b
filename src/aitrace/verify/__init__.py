"""Verification as data: every check of a bundle, chain of custody, and the policy it must meet."""
