"""`gemini-tuning prepare`: from a customer-service export (CSV / TSV / XLSX / chat JSONL, one
message per row) to a dataset folder that `submit` accepts as it is.

The steps live in small modules: `encoding` (which text encoding a file uses), `readers` (rows
out of CSV, Excel and JSONL), `mapping` (which column and which role value means what),
`spill` (an SQLite file on disk that holds the rows, so a 1 GB export never sits in memory),
`conversations` (rows of one session -> one or more Gemini examples), `split` (train /
validation / test without leakage) and `run` (the whole job and its report).
"""
