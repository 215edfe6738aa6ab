"""Receives every channel message on a subscription of its own, and deletes it on exit."""
