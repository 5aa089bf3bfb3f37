"""The follow-up queue: responses that need someone to act, and what was done."""
