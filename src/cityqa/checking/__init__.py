"""Claim → verdict with evidence: the fifth wing.

The fact-checker (`factcheck`: supported, contradicted or not in the sources, with the evidence shown) and the
briefing notes that carry answers and verdicts out (`briefing`).

Imports `answering` (for retrieval), `reading`, `index`, `documents` and the records; nothing imports it below
`assistant`.
"""
