"""Great Expectations evidence: data checks run through GX Core, stored as GX's own results."""
