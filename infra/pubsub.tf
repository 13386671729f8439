# One topic per hop, run-events for everyone else, and one shared dead-letter topic.
# The hops' push subscriptions live in modules/function (they target the function's URL);
# every subscription has a retry policy and a dead-letter policy.

locals {
  topics = {
    dataset_validated    = "${local.prefix}-dataset-validated"
    evaluation_requested = "${local.prefix}-evaluation-requested"
    run_events           = "${local.prefix}-run-events"
    poll_tick            = "${local.prefix}-poll-tick"
    dead_letter          = "${local.prefix}-dead-letter"
  }
}

resource "google_pubsub_topic" "dataset_validated" {
  name                       = local.topics.dataset_validated
  project                    = var.project_id
  kms_key_name               = var.kms_key_name
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.cmek]
}

resource "google_pubsub_topic" "evaluation_requested" {
  name                       = local.topics.evaluation_requested
  project                    = var.project_id
  kms_key_name               = var.kms_key_name
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.cmek]
}

resource "google_pubsub_topic" "run_events" {
  name                       = local.topics.run_events
  project                    = var.project_id
  kms_key_name               = var.kms_key_name
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.cmek]
}

resource "google_pubsub_topic" "poll_tick" {
  name         = local.topics.poll_tick
  project      = var.project_id
  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.cmek]
}

resource "google_pubsub_topic" "dead_letter" {
  name                       = local.topics.dead_letter
  project                    = var.project_id
  kms_key_name               = var.kms_key_name
  message_retention_duration = "604800s"

  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.cmek]
}

# Pub/Sub forwards undeliverable messages as its service agent.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

# Two subscribers on the dead-letter topic: the deadletter function's push subscription
# (modules/function, dead_letter_sink) marks the run FAILED with where to look, and this hold
# keeps an untouched copy for a week for a person to inspect or replay
# (`gcloud pubsub subscriptions pull`); the alert in monitoring.tf fires on arrival.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${local.topics.dead_letter}-hold"
  project                    = var.project_id
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# run-events: a pull subscription so every state change is kept for a week for notifications
# or a BigQuery export to pick up later.
resource "google_pubsub_subscription" "run_events_archive" {
  name                       = "${local.topics.run_events}-archive"
  project                    = var.project_id
  topic                      = google_pubsub_topic.run_events.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher]
}

# The dead-letter feature acknowledges forwarded messages on the source subscription as the
# Pub/Sub service agent.
resource "google_pubsub_subscription_iam_member" "run_events_archive_dead_letter" {
  project      = var.project_id
  subscription = google_pubsub_subscription.run_events_archive.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
