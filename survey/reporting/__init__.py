"""Reporting: the figures the pages show, from roll-ups kept at submission."""
