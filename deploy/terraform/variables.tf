variable "project_id" {
  description = "The Google Cloud project of the topics, the durable subscriptions and the service accounts (GCP_PROJECT_ID of the services)."
  type        = string
}

variable "replica_subscriptions_project_id" {
  description = <<-EOT
    The project where the fan-out replicas create their own short-lived subscriptions (the
    subscriber's REPLICA_SUBSCRIPTIONS_PROJECT_ID). It must hold nothing else: the replicas'
    custom role and the Pub/Sub service agent's subscriber grant are bound on the whole
    project, Pub/Sub's IAM having no conditions on resource names. Required unless
    allow_subscriptions_in_main_project.
  EOT
  type        = string
  default     = null
  validation {
    condition     = var.replica_subscriptions_project_id == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.replica_subscriptions_project_id))
    error_message = "replica_subscriptions_project_id must be a Google Cloud project ID."
  }
}

variable "dashboard_subscriptions_project_id" {
  description = <<-EOT
    The project where the dashboard creates its own three subscriptions (its
    REPLICA_SUBSCRIPTIONS_PROJECT_ID): a project of its own too, apart from the replicas',
    so that the dashboard's account can consume and delete its own subscriptions and no
    one else's. Required unless allow_subscriptions_in_main_project.
  EOT
  type        = string
  default     = null
  validation {
    condition     = var.dashboard_subscriptions_project_id == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.dashboard_subscriptions_project_id))
    error_message = "dashboard_subscriptions_project_id must be a Google Cloud project ID."
  }
}

variable "allow_subscriptions_in_main_project" {
  description = <<-EOT
    The shortcut, off by default: let the replicas' and the dashboard's subscriptions live
    in the main project (or share one project), the two ids above then optional. Their
    accounts' grants are project-wide, so each could then consume and delete the other's
    subscriptions, and tasks-workers and readings-sink too. Without it, a plan that would
    do so fails.
  EOT
  type        = bool
  default     = false
}

variable "gke_project_id" {
  description = "The project of the GKE cluster, whose workload pool (PROJECT.svc.id.goog) the Kubernetes ServiceAccounts belong to. Null: project_id."
  type        = string
  default     = null
}

variable "namespace" {
  description = "The Kubernetes namespace of the stack (deploy/kubernetes)."
  type        = string
  default     = "pubsub-fanout"
}

variable "keda_namespace" {
  description = "The namespace of KEDA's operator, which reads the backlog metric."
  type        = string
  default     = "keda"
}

variable "services_provision_shared_resources" {
  description = <<-EOT
    The services create the topics and the shared subscriptions they use when those are
    missing (so the compose stack needs no set-up), after looking for them first. With
    Terraform provisioning them, looking is enough (false, the default). True gives the
    services the permission to create them too, for a project where they may be missing
    (say, after someone deleted one) and the services should make them again.
  EOT
  type        = bool
  default     = false
}

variable "max_delivery_attempts" {
  description = "Deliveries before Pub/Sub dead-letters a message (MAX_DELIVERY_ATTEMPTS of the services)."
  type        = number
  default     = 5
}

variable "retry_minimum_backoff" {
  description = "Retry policy of the durable subscriptions: the wait before a nacked message comes back, at first."
  type        = string
  default     = "10s"
}

variable "retry_maximum_backoff" {
  description = "Retry policy of the durable subscriptions: the longest wait before a nacked message comes back."
  type        = string
  default     = "600s"
}

variable "kms_key_name" {
  description = "A Cloud KMS key to encrypt the topics' messages with (CMEK). Null: Google-managed encryption. The Pub/Sub service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = null
}

variable "cloud_trace" {
  description = "Grant every service's account roles/cloudtrace.agent, for the services run with TRACING=cloud-trace (docs/operations.md, Tracing)."
  type        = bool
  default     = false
}

variable "replay_seconds" {
  description = "REPLAY_SECONDS of the fan-out replicas: how far back a new replica's subscription is sought. The channel topic then retains messages that long (at least 10 minutes, at most 31 days; billed as storage). 0: no retention, no replay."
  type        = number
  default     = 0
  validation {
    condition     = var.replay_seconds >= 0 && var.replay_seconds <= 2678400
    error_message = "replay_seconds must be 0 to 2678400 (31 days), as REPLAY_SECONDS."
  }
}
