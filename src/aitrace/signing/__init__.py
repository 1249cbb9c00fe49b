"""Keys, DSSE envelopes over in-toto statements, reviewers' approvals and OpenSSF model-signing."""
