# One Google service account per service, and the one Kubernetes ServiceAccount (same name,
# namespace var.namespace, deploy/kubernetes/overlays/gke) that may act as it: Workload
# Identity, no key. No google_service_account_key anywhere.

locals {
  services = toset([
    "publisher",
    "subscriber",
    "dashboard",
    "task-publisher",
    "worker",
    "readings-publisher",
    "sink",
  ])
  workload_pool = "${coalesce(var.gke_project_id, var.project_id)}.svc.id.goog"
}

resource "google_service_account" "service" {
  for_each     = local.services
  account_id   = "pubsub-${each.key}"
  display_name = "pubsub-fanout ${each.key}"
  description  = "The ${each.key} service of pubsub-fanout, through Workload Identity (Kubernetes ServiceAccount ${var.namespace}/${each.key})."
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each           = local.services
  service_account_id = google_service_account.service[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${local.workload_pool}[${var.namespace}/${each.key}]"
}

# KEDA's operator reads the work queue's and the sink's backlog from Cloud Monitoring
# (TriggerAuthentication podIdentity gcp in deploy/kubernetes/overlays/gke).
resource "google_service_account" "keda" {
  account_id   = "pubsub-fanout-keda"
  display_name = "KEDA operator (pubsub-fanout backlog metrics)"
}

resource "google_service_account_iam_member" "keda_workload_identity" {
  service_account_id = google_service_account.keda.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${local.workload_pool}[${var.keda_namespace}/keda-operator]"
}

# Monitoring has no per-metric grant: viewer on the project, read-only.
resource "google_project_iam_member" "keda_monitoring" {
  project = var.project_id
  role    = "roles/monitoring.viewer"
  member  = google_service_account.keda.member
}
