"""Tables, the engine and sessions: the lowest layer."""
