# Custom roles instead of roles/pubsub.editor (which may delete any topic or subscription,
# and read any). Pub/Sub's IAM has no conditions on resource names (IAM Conditions'
# resource attributes cover Pub/Sub Lite, not Pub/Sub:
# https://cloud.google.com/iam/docs/conditions-resource-attributes), so "its own
# subscriptions on one topic" is built from two grants:
#   - fanout_replica, on the project that holds the account's own subscriptions and
#     nothing else: create subscriptions, read, pull/ack and delete them;
#   - subscription_attacher, on the one topic only: a new subscription may be attached to
#     that topic and no other (subscriptions.create also checks
#     pubsub.topics.attachSubscription on the topic).
# Neither can publish, touch topics, change IAM or snapshot.

# A project's custom role can be granted in that project only: one per project of owned
# subscriptions (one, if they share it).
resource "google_project_iam_custom_role" "fanout_replica" {
  for_each    = toset(values(local.own_subscriptions_projects))
  project     = each.key
  role_id     = "pubsubFanoutReplica"
  title       = "pubsub-fanout replica: its own subscriptions"
  description = "Create, read, consume and delete subscriptions. Bind on the project of the replicas' subscriptions; with subscriptionAttacher on one topic, a replica subscribes to that topic only."
  permissions = [
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.get",
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.delete",
  ]
}

resource "google_project_iam_custom_role" "subscription_attacher" {
  project     = var.project_id
  role_id     = "pubsubSubscriptionAttacher"
  title       = "pubsub-fanout: attach subscriptions to a topic"
  description = "Attach new subscriptions to the topic it is bound on. Bind on topics only."
  permissions = ["pubsub.topics.attachSubscription"]
}

# Only with var.services_provision_shared_resources: the services may create again the
# topics and shared subscriptions Terraform made, should one go missing.
resource "google_project_iam_custom_role" "provisioner" {
  count       = var.services_provision_shared_resources ? 1 : 0
  project     = var.project_id
  role_id     = "pubsubFanoutProvisioner"
  title       = "pubsub-fanout: create topics and subscriptions if missing"
  description = "Create (never delete, read or publish to) topics and subscriptions, should one Terraform made go missing."
  permissions = [
    "pubsub.topics.create",
    "pubsub.subscriptions.create",
  ]
}
