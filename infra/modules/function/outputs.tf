output "name" {
  description = "Deployed function name (also its Cloud Run service name)."
  value       = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "HTTPS URL of the function (reachable only as its ingress setting allows)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service_account_email" {
  description = "Runtime service account of the function."
  value       = google_service_account.runtime.email
}

output "trigger_service_account_email" {
  description = "Account that invokes the function for its trigger (null for HTTP)."
  value       = local.has_trigger_sa ? google_service_account.trigger[0].email : null
}

output "subscription" {
  description = "Push subscription feeding the function (pubsub trigger only)."
  value       = var.trigger.type == "pubsub" ? google_pubsub_subscription.push[0].name : null
}

output "source_object" {
  description = "gs:// URI of the deployed source zip."
  value       = "gs://${var.source_bucket}/${google_storage_bucket_object.source.name}"
}
