"""Language and judgement, shared by answering and checking: the third wing.

The learned answer scorer (`scorer`, its coefficients in `models/scorer.json`), word alignment through WordNet
(`align`, its tables in `models/lexicon.json.gz`) and spelling correction against the documents' words
(`spelling`). No retrieval and no index here: each judges the texts it is given.

Imports `documents` and the records, never a later wing.
"""
