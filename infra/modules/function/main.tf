# One 2nd-gen Cloud Function: its own service account holding exactly the roles passed in, a
# source zip built by Terraform itself, and its trigger.

locals {
  name = "${var.name_prefix}-${var.function}"

  # What goes into the zip: functions/<function>/* at the root (main.py, requirements.txt) plus
  # shared/ as a package, without tests, caches or hidden files. tools/package_function.py uses
  # the same pattern (tests/infra checks they agree), so a zip built locally is the deployed one.
  exclude    = "(^|/)(__pycache__|tests?)(/|$)|(^|/)test_[^/]*\\.py$|_test\\.py$|\\.py[co]$|(^|/)\\."
  fn_dir     = "${var.source_root}/functions/${var.function}"
  shared_dir = "${var.source_root}/shared"
  fn_files = {
    for f in fileset(local.fn_dir, "**") : f => "${local.fn_dir}/${f}" if !can(regex(local.exclude, f))
  }
  shared_files = {
    for f in fileset(local.shared_dir, "**") : "shared/${f}" => "${local.shared_dir}/${f}" if !can(regex(local.exclude, f))
  }
  files = merge(local.shared_files, local.fn_files)

  has_trigger_sa = var.trigger.type != "http"
  runtime_member = "serviceAccount:${google_service_account.runtime.email}"
  bucket_bindings = {
    for pair in flatten([
      for bucket, roles in var.bucket_roles : [for role in roles : { bucket = bucket, role = role }]
    ]) : "${pair.bucket} ${pair.role}" => pair
  }
}

# ---------------------------------------------------------------------------------------------
# Identity: the runtime account and, for event triggers, the account whose token invokes it.
# ---------------------------------------------------------------------------------------------

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = local.name
  display_name = "Gemini tuning pipeline: ${var.function} function"
  description  = "Runtime identity of the ${var.function} function; roles in infra/roles.json."
}

resource "google_service_account" "trigger" {
  count = local.has_trigger_sa ? 1 : 0

  project      = var.project_id
  account_id   = "${local.name}-trg"
  display_name = "Gemini tuning pipeline: invokes ${var.function}"
  description  = "Identity of the ${var.trigger.type} trigger's OIDC token; may only invoke ${local.name}."
}

resource "google_project_iam_member" "runtime" {
  for_each = toset(var.project_roles)

  project = var.project_id
  role    = each.value
  member  = local.runtime_member
}

resource "google_storage_bucket_iam_member" "runtime" {
  for_each = local.bucket_bindings

  bucket = each.value.bucket
  role   = each.value.role
  member = local.runtime_member
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = var.secret_environment

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.runtime_member
}

resource "google_pubsub_topic_iam_member" "runtime" {
  for_each = toset(var.publish_topics)

  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = local.runtime_member
}

# ---------------------------------------------------------------------------------------------
# Source: zipped by Terraform from the repository, uploaded under its content hash.
# ---------------------------------------------------------------------------------------------

data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.root}/build/${local.name}.zip"

  dynamic "source" {
    for_each = local.files
    content {
      filename = source.key
      content  = file(source.value)
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name         = "${local.name}/${data.archive_file.source.output_md5}.zip"
  bucket       = var.source_bucket
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

# ---------------------------------------------------------------------------------------------
# The function
# ---------------------------------------------------------------------------------------------

resource "google_cloudfunctions2_function" "this" {
  name        = local.name
  project     = var.project_id
  location    = var.region
  description = "Gemini tuning pipeline: ${var.function} (${var.trigger.type} trigger)"
  labels      = merge(var.labels, { pipeline = "gemini-tuning", function = var.function })

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory               = var.memory
    timeout_seconds                = var.timeout_seconds
    min_instance_count             = 0
    max_instance_count             = var.max_instances
    ingress_settings               = var.ingress
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.runtime.email
    environment_variables          = var.environment

    # Secrets as environment variables: no client library, read once at instance start.
    dynamic "secret_environment_variables" {
      for_each = var.secret_environment
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # Cloud Storage: Eventarc filters on the bucket only; the validator ignores non-triggers.
  # Retries are off for event functions unless the policy says so.
  dynamic "event_trigger" {
    for_each = var.trigger.type == "storage" ? [var.trigger.bucket] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.storage.object.v1.finalized"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.trigger[0].email

      event_filters {
        attribute = "bucket"
        value     = event_trigger.value
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.trigger.type != "pubsub" || var.timeout_seconds <= 600
      error_message = "A Pub/Sub push-triggered function must finish within the 600 s ack deadline: set timeout_seconds <= 600."
    }
  }

  depends_on = [
    google_project_iam_member.runtime,
    google_storage_bucket_iam_member.runtime,
    google_pubsub_topic_iam_member.runtime,
    google_secret_manager_secret_iam_member.runtime,
    google_project_iam_member.trigger_event_receiver,
  ]
}

# ---------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------

# Eventarc delivers as the trigger account, which must be allowed to receive events.
resource "google_project_iam_member" "trigger_event_receiver" {
  count = var.trigger.type == "storage" ? 1 : 0

  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger[0].email}"
}

# Pub/Sub signs the OIDC token as the trigger account (needed for projects from before 2021-04).
resource "google_service_account_iam_member" "trigger_token_creator" {
  count = local.has_trigger_sa ? 1 : 0

  service_account_id = google_service_account.trigger[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = var.pubsub_service_agent
}

resource "google_cloud_run_service_iam_member" "trigger_invoker" {
  count = local.has_trigger_sa ? 1 : 0

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger[0].email}"
}

resource "google_cloud_run_service_iam_member" "invokers" {
  for_each = toset(var.invokers)

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}

# Pub/Sub hops use an explicit push subscription instead of an Eventarc-managed one so that it
# can carry a retry policy and a dead-letter topic. functions-framework turns the raw push body
# into the same messagePublished CloudEvent the handler already parses.
# The dead-letter sink (the function fed by the dead-letter topic) cannot dead-letter into its
# own topic; instead it retries for the whole week its messages are retained, and keeps handled
# ones too so they can be replayed with `gcloud pubsub subscriptions seek`.
resource "google_pubsub_subscription" "push" {
  count = var.trigger.type == "pubsub" ? 1 : 0

  name                       = "${local.name}-push"
  project                    = var.project_id
  topic                      = var.trigger.topic_id
  ack_deadline_seconds       = min(600, max(10, var.timeout_seconds))
  message_retention_duration = "604800s"
  retain_acked_messages      = var.dead_letter_sink

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dynamic "dead_letter_policy" {
    for_each = var.dead_letter_sink ? [] : [var.dead_letter_topic_id]
    content {
      dead_letter_topic     = dead_letter_policy.value
      max_delivery_attempts = var.max_delivery_attempts
    }
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.this.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.trigger[0].email
      audience              = google_cloudfunctions2_function.this.service_config[0].uri
    }
  }

  lifecycle {
    precondition {
      condition     = (var.dead_letter_topic_id != null) != var.dead_letter_sink
      error_message = "A pubsub trigger needs dead_letter_topic_id, except the dead-letter sink itself (dead_letter_sink = true), which must not have one."
    }
  }

  depends_on = [google_cloud_run_service_iam_member.trigger_invoker]
}

# The dead-letter feature acks forwarded messages on this subscription as the Pub/Sub agent.
# count must be known at plan time: the topic id is not (it is only known after apply), so the
# boolean dead_letter_sink decides (the precondition above ties the two together).
resource "google_pubsub_subscription_iam_member" "push_dead_letter" {
  count = var.trigger.type == "pubsub" && !var.dead_letter_sink ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.push[0].name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_service_agent
}
