"""Chunks → a generation on disk: the second wing.

The sentence encoder (`embeddings`, with its torch-free ONNX export in `onnx_encoder`), a generation's node store
(`nodes`), its dense vectors in Chroma (`vectors`) and its BM25 index (`bm25`), the manifest, generations and the
writer lock (`store`), and the incremental `ingest` that builds and switches them atomically.

Imports `documents` and the records, never a later wing.
"""
