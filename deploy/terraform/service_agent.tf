# The Pub/Sub service agent forwards a message that failed max_delivery_attempts times to
# the dead-letter topic: it publishes there, and acks the message on the source
# subscription as a subscriber. Its grants, on the dead-letter resources only:
#   - publisher on the two dead-letter topics;
#   - subscriber on tasks-workers, the one durable subscription with a dead-letter policy
#     (readings-sink has none; the dead-letter subscriptions themselves have none);
#   - subscriber for the fan-out replicas' subscriptions, which come and go with the pods
#     and so cannot be named here, and Pub/Sub IAM has no condition on resource names: on
#     the project that holds them. Least privilege is a project that holds nothing else
#     (var.replica_subscriptions_project_id): there the grant reaches the replicas' (and the
#     dashboard's) subscriptions only. The agent of a subscription's own project is the one
#     that forwards, so with a separate project its agent gets the publisher grant too.

data "google_project" "main" {
  project_id = var.project_id
}

data "google_project" "replicas" {
  project_id = local.replica_project
}

locals {
  main_agent    = "serviceAccount:service-${data.google_project.main.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  replica_agent = "serviceAccount:service-${data.google_project.replicas.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  dead_letter_publishers = {
    "tasks-dead-letter"   = local.main_agent    # tasks-workers is in the main project
    "channel-dead-letter" = local.replica_agent # the replicas' subscriptions' project
  }
}

resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  for_each = local.dead_letter_publishers
  topic    = google_pubsub_topic.topic[each.key].name
  role     = "roles/pubsub.publisher"
  member   = each.value
}

resource "google_pubsub_subscription_iam_member" "agent_acks_dead_lettered_tasks" {
  subscription = google_pubsub_subscription.tasks_workers.name
  role         = "roles/pubsub.subscriber"
  member       = local.main_agent
}

resource "google_project_iam_member" "agent_acks_dead_lettered_replica_messages" {
  project = local.replica_project
  role    = "roles/pubsub.subscriber"
  member  = local.replica_agent

  lifecycle {
    precondition {
      condition     = local.subscriptions_apart || var.allow_subscriptions_in_main_project
      error_message = "This grant is project-wide in ${local.replica_project}: set replica_subscriptions_project_id to a project holding only the replicas' subscriptions, or allow_subscriptions_in_main_project = true (see deploy/terraform/README.md)."
    }
  }
}
