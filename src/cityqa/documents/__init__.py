"""Files → `Document` → `Chunk`, safely: the first wing.

Reading a source file (`corpus`: .txt, .md, .pdf, .docx, .html; `extractors` one reader per format, run in the
`sandbox` child process; `pdftext` reading order, `ocr` scanned pages, `pdfrender` and `pages` a quote on its page),
adding and removing files from the UI (`uploads`), and cutting documents into chunks with exact spans
(`chunking`). The word, place and date finders (`text`, `entities`) live here because chunking tags every chunk
with the places it names; every later wing reads them from here.

Imports only the records at the top (`types`, `errors`, `settings`), never a later wing.
"""
