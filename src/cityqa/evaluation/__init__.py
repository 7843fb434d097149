"""Gold sets, SQuAD, baselines and training: the wing above `assistant`.

Metric functions (`metrics`), the systems compared (`baselines`), the gold-set runner (`evaluate`), SQuAD 2.0 files
as a corpus (`squad`) and their runner (`squad_eval`), the report files and tables (`report`), and `make train`
(`train`), which fits the scorer `reading` ships.

Imports `assistant` and everything below it; only `ui` and `cli` import it.
"""
