# The poller's clock: a Pub/Sub tick every minute. Cloud Scheduler publishes as its own service
# agent; the tick goes through the poller's push subscription (retry + dead letter like any hop).
locals {
  # What shared/events.py encode_message("poll-tick", None) produces (tests/infra decodes it).
  poll_tick_message = "{\"type\":\"poll-tick\",\"version\":1,\"run_id\":null}"
}

resource "google_cloud_scheduler_job" "poll_tick" {
  name        = "${local.prefix}-poll-tick"
  project     = var.project_id
  region      = var.region
  description = "Ticks the Gemini tuning pipeline's poller (job states, queued launches)."
  schedule    = var.poll_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.poll_tick.id
    data       = base64encode(local.poll_tick_message)
    attributes = {
      type    = "poll-tick"
      version = "1"
    }
  }

  depends_on = [google_project_service.apis]
}
