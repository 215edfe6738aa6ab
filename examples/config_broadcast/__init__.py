"""Config broadcast: every replica keeps the latest value of each setting.

An update is UTF-8 JSON: ``{"setting": "banner", "value": "Autumn sale", "version":
1764540000123}``, where ``version`` orders the updates of one setting (here the time of
the change in milliseconds): Pub/Sub may deliver them out of order, or twice, and an
older update must never overwrite a newer one.
"""
