"""The auditor's views of a record: one view model rendered as text, JSON and HTML, and diffs."""
