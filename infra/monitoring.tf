# Alerts a platform team acts on: runs that end FAILED or REJECTED, and messages that were
# dead-lettered. Incidents are recorded even with no notification channel configured.

# Log contract (shared/logs.py, shared/pipeline/transitions.py): with BACKEND=gcp every state
# change is one JSON line on stdout with `run_id` and `status`; Cloud Functions (2nd gen) logs
# carry resource.type cloud_run_revision. Drops are the warning and error lines of
# shared/pipeline/validation.py and entry.py. What each metric matches is defined once, in
# log_metrics.json, which tests/infra/test_log_metrics.py checks against the real lines.
locals {
  log_metrics = jsondecode(file("${path.module}/log_metrics.json"))
  dropped     = local.log_metrics.messages_dropped
  ended_badly = local.log_metrics.runs_ended_badly
}

resource "google_logging_metric" "runs_ended_badly" {
  project     = var.project_id
  name        = "${local.prefix}/runs_failed_or_rejected"
  description = "Runs of the Gemini tuning pipeline that ended FAILED or REJECTED."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name=("${module.validator.name}" OR "${module.launcher.name}" OR "${module.poller.name}" OR "${module.evaluator.name}" OR "${module.deadletter.name}")
    jsonPayload.${local.ended_badly.status_field}=(${join(" OR ", [for v in local.ended_badly.statuses : "\"${v}\""])})
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Runs ended FAILED or REJECTED"

    labels {
      key         = "status"
      value_type  = "STRING"
      description = "FAILED or REJECTED"
    }
  }

  label_extractors = {
    status = "EXTRACT(jsonPayload.${local.ended_badly.status_field})"
  }
}

# Pub/Sub does not log a line when it dead-letters a message, so a log-based metric would see
# nothing; the service's own metric counts exactly those messages. A second log-based metric
# catches the pipeline's own "dropped" lines (events older than MAX_EVENT_AGE_SECONDS and
# permanent errors that were acknowledged rather than retried).
resource "google_logging_metric" "messages_dropped" {
  project     = var.project_id
  name        = "${local.prefix}/messages_dropped"
  description = "Events the Gemini tuning pipeline acknowledged without doing the work (too old, or undecodable)."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name=("${module.validator.name}" OR "${module.launcher.name}" OR "${module.poller.name}" OR "${module.evaluator.name}" OR "${module.deadletter.name}")
    severity>=${local.dropped.min_severity}
    jsonPayload.message=~"${local.dropped.message_regex}"
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Pipeline events dropped"
  }
}

# Alert policies on a just-created log-based metric can be refused with 404 for minutes
# (terraform-provider-google #11102): wait before creating them; cloudbuild.yaml retries the
# apply once if that was not enough (docs/DEPLOY.md).
resource "time_sleep" "log_metrics_visible" {
  create_duration = var.metric_propagation_wait

  triggers = {
    runs_ended_badly = google_logging_metric.runs_ended_badly.id
    messages_dropped = google_logging_metric.messages_dropped.id
  }
}

resource "google_monitoring_alert_policy" "runs_ended_badly" {
  project               = var.project_id
  display_name          = "Gemini tuning: run FAILED or REJECTED"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "A run ended FAILED or REJECTED"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.runs_ended_badly.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.status"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [time_sleep.log_metrics_visible]

  documentation {
    mime_type = "text/markdown"
    content   = "A tuning run ended FAILED or REJECTED. Open the status page or the Firestore collection `${var.runs_collection}` (database `${var.firestore_database}`): the run's `error` says the stage, the code and what to change. REJECTED runs carry the validation report in the artifacts bucket."
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "Gemini tuning: message dead-lettered"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Messages forwarded to the dead-letter topic"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  conditions {
    display_name = "Pipeline dropped events"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.messages_dropped.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [time_sleep.log_metrics_visible]

  documentation {
    mime_type = "text/markdown"
    content   = "A message was retried ${var.max_delivery_attempts} times and moved to `${google_pubsub_topic.dead_letter.name}`, or a function dropped an event. Inspect with `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --limit=10` and the function logs; the `${module.deadletter.name}` function has marked the run named in the message's `run_id` attribute FAILED, with the stage that failed in its `error`."
  }
}
