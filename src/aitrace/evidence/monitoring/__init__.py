"""After deployment: the record keeps going (the guide's 監控方式, 準確性與可靠性).

Three kinds of evidence, recorded on steps of the post-deployment stage ``monitoring``:

* ``trace-sample`` (``traces``) — a sample of the application's own MLflow traces, read-only:
  ids, times, model and endpoint, latency, token counts, status and request/response
  **digests**; prompt and response text only when asked for, and then only redacted
  (``aitrace.evidence.pii``), with counts of what was removed;
* ``output-review`` (``review``) — a person's verdicts on sampled outputs, from a review sheet
  whose rows must match the sampled digests, signed by the reviewer (DSSE, by
  ``aitrace.signing.reviews``);
* ``user-feedback`` (``feedback``) — problems users reported, redacted like prompts, linked to
  the release; resolved entries reference the entry they resolve.

``timeline`` folds them (and drift checks and metrics of monitoring steps) into what the report
draws and the freshness policy (``aitrace.verify.freshness``) judges.
"""
