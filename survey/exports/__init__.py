"""Exports for analysts: CSV, Excel, SPSS and Parquet files, and pages of rows for the API."""
