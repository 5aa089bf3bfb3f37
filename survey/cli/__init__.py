"""The command line: ``python -m survey COMMAND``."""
