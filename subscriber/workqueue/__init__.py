"""The work queue: replicas are competing workers on one shared subscription."""
