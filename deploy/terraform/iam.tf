# What each service's Google service account may do, resource by resource. Compare the
# README's single roles/pubsub.editor per service.

locals {
  replica_project   = coalesce(var.replica_subscriptions_project_id, var.project_id)
  dashboard_project = coalesce(var.dashboard_subscriptions_project_id, var.project_id)
  # Where each account creates the subscriptions it owns: a project apiece, holding
  # nothing else (variables.tf), since the grant there is project-wide.
  own_subscriptions_projects = {
    subscriber = local.replica_project
    dashboard  = local.dashboard_project
  }
  # True when no account's project-wide grant reaches a subscription it does not own.
  subscriptions_apart = (
    local.replica_project != var.project_id
    && local.dashboard_project != var.project_id
    && local.replica_project != local.dashboard_project
  )
  topic = google_pubsub_topic.topic
  # Who publishes where.
  publishers = {
    "publisher/channel"           = ["publisher", "channel"]
    "subscriber/channel-receipts" = ["subscriber", "channel-receipts"]
    "task-publisher/tasks"        = ["task-publisher", "tasks"]
    "readings-publisher/readings" = ["readings-publisher", "readings"]
  }
  # Whose own subscriptions go on which topic: the replicas on the channel; the dashboard on
  # the channel, the receipts and the dead letters (it reads all three).
  attachers = {
    "subscriber/channel"            = ["subscriber", "channel"]
    "subscriber/channel-replicas"   = ["subscriber", "channel-replicas"]
    "dashboard/channel"             = ["dashboard", "channel"]
    "dashboard/channel-receipts"    = ["dashboard", "channel-receipts"]
    "dashboard/channel-dead-letter" = ["dashboard", "channel-dead-letter"]
  }
  # What each service looks up at start (and after Pub/Sub lost it) before it would create
  # it: the services look before they create (common/pubsub.py), so reading is enough
  # where Terraform made everything.
  topic_readers = {
    "publisher/channel"              = ["publisher", "channel"]
    "task-publisher/tasks"           = ["task-publisher", "tasks"]
    "readings-publisher/readings"    = ["readings-publisher", "readings"]
    "subscriber/channel-dead-letter" = ["subscriber", "channel-dead-letter"]
    "subscriber/channel-receipts"    = ["subscriber", "channel-receipts"]
    "subscriber/channel-replicas"    = ["subscriber", "channel-replicas"]
    "worker/tasks"                   = ["worker", "tasks"]
    "worker/tasks-dead-letter"       = ["worker", "tasks-dead-letter"]
    "sink/readings"                  = ["sink", "readings"]
    "dashboard/channel"              = ["dashboard", "channel"]
    "dashboard/channel-receipts"     = ["dashboard", "channel-receipts"]
    "dashboard/channel-dead-letter"  = ["dashboard", "channel-dead-letter"]
  }
  subscription_readers = {
    "subscriber/channel-dead-letter" = ["subscriber", google_pubsub_subscription.dead_letter["channel-dead-letter"].name]
    "worker/tasks-dead-letter"       = ["worker", google_pubsub_subscription.dead_letter["tasks-dead-letter"].name]
    "worker/tasks-workers"           = ["worker", google_pubsub_subscription.tasks_workers.name]
    "sink/readings-sink"             = ["sink", google_pubsub_subscription.readings_sink.name]
  }
  # While the services provision: the shared subscriptions each one (re)creates.
  provisioning_attachers = var.services_provision_shared_resources ? {
    "subscriber/channel-dead-letter" = ["subscriber", "channel-dead-letter"]
    "worker/tasks"                   = ["worker", "tasks"]
    "worker/tasks-dead-letter"       = ["worker", "tasks-dead-letter"]
    "sink/readings"                  = ["sink", "readings"]
  } : {}
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publishers
  topic    = local.topic[each.value[1]].name
  role     = "roles/pubsub.publisher"
  member   = google_service_account.service[each.value[0]].member
}

resource "google_pubsub_topic_iam_member" "attacher" {
  for_each = merge(local.attachers, local.provisioning_attachers)
  topic    = local.topic[each.value[1]].name
  role     = google_project_iam_custom_role.subscription_attacher.name
  member   = google_service_account.service[each.value[0]].member
}

# The fan-out replicas' and the dashboard's own subscriptions, each in its own project:
# see roles.tf. The plan fails rather than bind these where they would reach a
# subscription the account does not own (unless var.allow_subscriptions_in_main_project).
resource "google_project_iam_member" "fanout_replica" {
  for_each = local.own_subscriptions_projects
  project  = each.value
  role     = google_project_iam_custom_role.fanout_replica[each.value].name
  member   = google_service_account.service[each.key].member

  lifecycle {
    precondition {
      condition     = local.subscriptions_apart || var.allow_subscriptions_in_main_project
      error_message = "The replicas' and the dashboard's own subscriptions need a project each, apart from ${var.project_id} and from each other: set replica_subscriptions_project_id and dashboard_subscriptions_project_id (and the services' REPLICA_SUBSCRIPTIONS_PROJECT_ID to match), or allow_subscriptions_in_main_project = true to accept that their accounts can then consume and delete each other's subscriptions and tasks-workers and readings-sink. See deploy/terraform/README.md."
    }
  }
}

# The shared subscriptions: consume only (pull, ack, lease), each by its own consumers.
resource "google_pubsub_subscription_iam_member" "worker" {
  subscription = google_pubsub_subscription.tasks_workers.name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.service["worker"].member
}

resource "google_pubsub_subscription_iam_member" "sink" {
  subscription = google_pubsub_subscription.readings_sink.name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.service["sink"].member
}

resource "google_pubsub_topic_iam_member" "reader" {
  for_each = local.topic_readers
  topic    = local.topic[each.value[1]].name
  role     = "roles/pubsub.viewer"
  member   = google_service_account.service[each.value[0]].member
}

resource "google_pubsub_subscription_iam_member" "reader" {
  for_each     = local.subscription_readers
  subscription = each.value[1]
  role         = "roles/pubsub.viewer"
  member       = google_service_account.service[each.value[0]].member
}

resource "google_project_iam_member" "provisioner" {
  for_each = var.services_provision_shared_resources ? local.services : toset([])
  project  = var.project_id
  role     = google_project_iam_custom_role.provisioner[0].name
  member   = google_service_account.service[each.key].member
}
