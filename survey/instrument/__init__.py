"""The survey instrument: its versioned definition, scoring and the touchpoints it is sent after."""
