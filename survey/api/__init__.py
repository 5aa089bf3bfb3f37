"""The HTTP API served beside the app."""
