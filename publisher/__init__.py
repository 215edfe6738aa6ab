"""Publishes a random channel message to the topic every few seconds."""
