# Topics and durable subscriptions, named as the services name them by default
# (PUBSUB_TOPIC, DEAD_LETTER_TOPIC = <topic>-dead-letter, RECEIPTS_TOPIC = <topic>-receipts,
# SUBSCRIPTION_ID of the worker and the sink in deploy/kubernetes).
# Per-replica and dashboard subscriptions, and the replicas' identity claims on
# channel-replicas, are not here: each process creates its own and deletes it on SIGTERM
# (1-day TTL as a safety net).

locals {
  labels = { app = "pubsub-fanout" }
  topics = toset([
    "channel",             # fan-out demo
    "channel-dead-letter", # its replicas' dead letters
    "channel-receipts",    # replicas' receipts for the live view
    "channel-replicas",    # replicas' identity claims (subscriber/fanout/identity.py)
    "tasks",               # work queue
    "tasks-dead-letter",   # tasks that failed every attempt
    "readings",            # durable sink
  ])
  # Durable subscriptions on the dead-letter topics: they keep what failed, for someone to
  # look at. Same name as the topic, as the services create them.
  dead_letter_subscriptions = toset(["channel-dead-letter", "tasks-dead-letter"])
  # The fan-out topic retains the replicas' replay window (REPLAY_SECONDS), within what
  # Pub/Sub accepts (10 minutes to 31 days), as common/resources.py retention_covering.
  replay_retention = var.replay_seconds > 0 ? "${min(max(var.replay_seconds, 600), 2678400)}s" : null
}

resource "google_pubsub_topic" "topic" {
  for_each     = local.topics
  name         = each.key
  labels       = local.labels
  kms_key_name = var.kms_key_name
  # Every message kept this long, acked or not, so a late replica's new subscription can
  # be sought back to before it existed (docs/operations.md, "Late joiners").
  message_retention_duration = each.key == "channel" ? local.replay_retention : null
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.dead_letter_subscriptions
  name     = each.key
  topic    = google_pubsub_topic.topic[each.key].id
  labels   = merge(local.labels, { role = "dead-letter" })
  # The longest Pub/Sub allows: dead letters wait to be read.
  message_retention_duration = "604800s"
  # Never expires, though nobody may pull for weeks.
  expiration_policy {
    ttl = ""
  }
}

# The work queue: workers share it; each task goes to one of them.
resource "google_pubsub_subscription" "tasks_workers" {
  name   = "tasks-workers"
  topic  = google_pubsub_topic.topic["tasks"].id
  labels = merge(local.labels, { role = "work-queue" })
  # ACK_DEADLINE_SECONDS of the workers; they renew it while a task runs.
  ack_deadline_seconds       = 30
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
  # A nacked task (failed, overdue) comes back after a growing wait, not at once, so a
  # transient failure has time to pass before its attempts run out.
  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["tasks-dead-letter"].id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# The durable sink. No dead-letter policy, by design (README, Durable sink): the sink never
# nacks (what it cannot store goes to its rejects table, acked), so delivery attempts grow
# only when leases lapse, as in a long database outage with sinks restarting; a dead-letter
# policy would then take good readings out of the database's way for good.
resource "google_pubsub_subscription" "readings_sink" {
  name                       = "readings-sink"
  topic                      = google_pubsub_topic.topic["readings"].id
  labels                     = merge(local.labels, { role = "sink" })
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }
}
