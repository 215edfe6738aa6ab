"""Code shared by the publisher and the subscriber: settings, messages, plumbing."""
