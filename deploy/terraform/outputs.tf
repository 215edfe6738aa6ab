output "service_accounts" {
  description = "Each service's Google service account: the iam.gke.io/gcp-service-account annotations of deploy/kubernetes/overlays/gke/workload-identity.yaml."
  value       = { for name, account in google_service_account.service : name => account.email }
}

output "keda_service_account" {
  description = "Annotate KEDA's operator ServiceAccount with it: kubectl -n keda annotate serviceaccount keda-operator iam.gke.io/gcp-service-account=EMAIL"
  value       = google_service_account.keda.email
}
