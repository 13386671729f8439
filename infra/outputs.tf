output "datasets_bucket" {
  description = "Drop datasets at gs://<this>/incoming/<dataset>/train.jsonl (upload train.jsonl last)."
  value       = google_storage_bucket.datasets.name
}

output "vertex_location" {
  description = "Where tuning jobs run; models are called where shared/catalog.json serves them (gemini-tuning models)."
  value       = var.vertex_location
}

output "artifacts_bucket" {
  description = "Validation and evaluation reports."
  value       = google_storage_bucket.artifacts.name
}

output "topics" {
  description = "Pub/Sub topic names by role."
  value = {
    dataset_validated    = google_pubsub_topic.dataset_validated.name
    evaluation_requested = google_pubsub_topic.evaluation_requested.name
    run_events           = google_pubsub_topic.run_events.name
    poll_tick            = google_pubsub_topic.poll_tick.name
    dead_letter          = google_pubsub_topic.dead_letter.name
  }
}

output "run_events_subscription" {
  description = "Pull subscription holding every run state change for a week."
  value       = google_pubsub_subscription.run_events_archive.name
}

output "dead_letter_subscription" {
  description = "Pull subscription keeping a week's copy of every dead-lettered message for inspection or replay (the deadletter function has already marked its run FAILED)."
  value       = google_pubsub_subscription.dead_letter.name
}

output "dead_letter_push_subscription" {
  description = "Push subscription feeding the deadletter function; it retries for a week and keeps handled messages for `gcloud pubsub subscriptions seek`."
  value       = module.deadletter.subscription
}

output "firestore_database" {
  description = "Firestore database that holds the run records."
  value       = google_firestore_database.runs.name
}

output "status_url" {
  description = "Status page URL (IAM-authenticated; internal ingress unless status_ingress says otherwise)."
  value       = module.status.uri
}

output "functions" {
  description = "Deployed function names."
  value = {
    validator  = module.validator.name
    launcher   = module.launcher.name
    poller     = module.poller.name
    evaluator  = module.evaluator.name
    deadletter = module.deadletter.name
    status     = module.status.name
  }
}

output "service_accounts" {
  description = "Runtime service account of each function."
  value = {
    validator  = module.validator.service_account_email
    launcher   = module.launcher.service_account_email
    poller     = module.poller.service_account_email
    evaluator  = module.evaluator.service_account_email
    deadletter = module.deadletter.service_account_email
    status     = module.status.service_account_email
  }
}

output "console_links" {
  description = "Where to look: run records, tuning jobs, logs, functions, the datasets bucket."
  value = {
    firestore = "https://console.cloud.google.com/firestore/databases/${google_firestore_database.runs.name}/data/panel/${var.runs_collection}?project=${var.project_id}"
    vertex_ai = "https://console.cloud.google.com/vertex-ai/generative/language/tuning?project=${var.project_id}"
    logs      = "https://console.cloud.google.com/logs/query;query=${urlencode("resource.type=\"cloud_run_revision\" resource.labels.service_name=~\"^${local.prefix}-\"")}?project=${var.project_id}"
    functions = "https://console.cloud.google.com/functions/list?project=${var.project_id}"
    datasets  = "https://console.cloud.google.com/storage/browser/${google_storage_bucket.datasets.name}/incoming?project=${var.project_id}"
    alerts    = "https://console.cloud.google.com/monitoring/alerting?project=${var.project_id}"
  }
}
