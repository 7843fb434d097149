"""Question → passages → the quoted answer: the fourth wing.

Hybrid retrieval through llama-index (`retrieve`), the extractive answerer that quotes the best sentence or says
"not found" (`answer`), and follow-up questions resolved against earlier turns (`followup`).

Imports `reading`, `index`, `documents` and the records, never `checking` or a later wing.
"""
