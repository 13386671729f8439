# The functions (the notifier only with var.notifier_webhook_secret). Each one's roles are exactly the row of roles.json for it
# (tests/infra/test_wiring.py checks both ways); every function reads the same Settings.

locals {
  # Every variable in shared/settings.py SETTINGS_ENV, and nothing else.
  function_env = {
    BACKEND                          = "gcp"
    GCP_PROJECT                      = var.project_id
    VERTEX_LOCATION                  = var.vertex_location
    DATASETS_BUCKET                  = google_storage_bucket.datasets.name
    ARTIFACTS_BUCKET                 = google_storage_bucket.artifacts.name
    TOPIC_DATASET_VALIDATED          = google_pubsub_topic.dataset_validated.name
    TOPIC_EVALUATION_REQUESTED       = google_pubsub_topic.evaluation_requested.name
    TOPIC_RUN_EVENTS                 = google_pubsub_topic.run_events.name
    FIRESTORE_DATABASE               = google_firestore_database.runs.name
    RUNS_COLLECTION                  = var.runs_collection
    PRODUCTION_COLLECTION            = var.production_collection
    MAX_CONCURRENT_JOBS              = tostring(var.max_concurrent_jobs)
    MAX_EVENT_AGE_SECONDS            = tostring(var.max_event_age_seconds)
    DEFAULT_SOURCE_MODEL             = var.default_source_model
    DEFAULT_EPOCHS                   = var.default_epochs == null ? "" : tostring(var.default_epochs)
    DEFAULT_LEARNING_RATE_MULTIPLIER = var.default_learning_rate_multiplier == null ? "" : tostring(var.default_learning_rate_multiplier)
    DEFAULT_ADAPTER_SIZE             = var.default_adapter_size == null ? "" : tostring(var.default_adapter_size)
    DEFAULT_EVAL_SAMPLE_SIZE         = tostring(var.default_eval_sample_size)
    MODEL_CATALOG_OVERRIDES          = var.model_catalog_overrides
    PII_POLICY                       = var.pii_policy
    PII_PATTERNS                     = jsonencode(var.pii_patterns)
    ALLOW_UNLISTED_MODELS            = var.allow_unlisted_models ? "true" : "false"
    TUNING_SERVICE_ACCOUNT           = google_service_account.tuning.email
    MAX_RUN_USD                      = var.max_run_usd == null ? "" : tostring(var.max_run_usd)
    MAX_MONTH_USD                    = var.max_month_usd == null ? "" : tostring(var.max_month_usd)
    MAX_TRAINING_HOURS               = var.max_training_hours == null ? "" : tostring(var.max_training_hours)
    STUCK_AFTER_MINUTES              = var.stuck_after_minutes == null ? "" : tostring(var.stuck_after_minutes)
    NOTIFY_FORMAT                    = var.notifier_format
  }
  source_root = abspath("${path.module}/..")
}

# Cloud Build builds each function as this account (new projects no longer give the default
# Cloud Build account these rights).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.prefix}-fn-build"
  display_name = "Gemini tuning pipeline: builds function images"

  # A service account can only be created once iam.googleapis.com is on (first apply of an
  # empty project: terraform-provider-google #25294).
  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "build" {
  # Cloud Functions creates its gcf-artifacts repository itself, so no narrower binding exists.
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# 2nd-gen builds read the source that Cloud Functions copies into its own bucket,
# gcf-v2-sources-<project number>-<region>, which it creates at the first deploy: no bucket-level
# binding can exist before the first build needs it, so the grant is project-level, narrowed by
# an IAM condition to those buckets (Cloud Run, "Set build service account": Storage Object
# Viewer on the sources bucket).
resource "google_project_iam_member" "build_reads_gcf_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "gcf-v2-sources buckets only"
    description = "The buckets Cloud Functions (2nd gen) copies function sources into."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")"
  }
}

# IAM changes take minutes to reach every Google service. The first build and the first
# Eventarc trigger are created only after this wait (var.iam_propagation_wait); cloudbuild.yaml
# retries the apply once for what is still slower.
resource "time_sleep" "iam_propagation" {
  create_duration = var.iam_propagation_wait

  triggers = {
    build_account = google_service_account.build.id
    eventarc      = google_project_service_identity.eventarc.email
  }

  depends_on = [
    google_project_service_identity.eventarc,
    google_project_iam_member.build,
    google_project_iam_member.build_reads_gcf_sources,
    google_storage_bucket_iam_member.build_reads_sources,
    google_project_iam_member.gcs_agent_pubsub_publisher,
  ]
}

# Carries the ordering the functions need (APIs on, build account usable, Eventarc able to
# publish) as values, because depends_on on a module would defer its archive to apply time.
resource "terraform_data" "ready" {
  input = {
    project_id    = var.project_id
    build_account = google_service_account.build.id
  }

  depends_on = [
    google_project_service.apis,
    time_sleep.iam_propagation,
  ]
}

module "validator" {
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "validator"
  entry_point           = "on_dataset_uploaded"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  memory                = "1Gi"
  timeout_seconds       = 540
  max_instances         = 10
  pubsub_service_agent  = local.pubsub_agent

  trigger = {
    type   = "storage"
    bucket = google_storage_bucket.datasets.name
  }

  project_roles = ["roles/datastore.user"]
  bucket_roles = {
    (google_storage_bucket.datasets.name)  = ["roles/storage.objectViewer"]
    (google_storage_bucket.artifacts.name) = ["roles/storage.objectUser"]
  }
  publish_topics = [
    google_pubsub_topic.dataset_validated.name,
    google_pubsub_topic.run_events.name,
  ]
}

module "launcher" {
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "launcher"
  entry_point           = "on_dataset_validated"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  memory                = "512Mi"
  timeout_seconds       = 120
  max_instances         = 3
  pubsub_service_agent  = local.pubsub_agent
  dead_letter_topic_id  = google_pubsub_topic.dead_letter.id
  max_delivery_attempts = var.max_delivery_attempts

  trigger = {
    type     = "pubsub"
    topic_id = google_pubsub_topic.dataset_validated.id
  }

  project_roles = ["roles/aiplatform.user", "roles/datastore.user"]
  # Reads (stat) the run's copies and its test set before creating a job: still as validated?
  bucket_roles = {
    (google_storage_bucket.datasets.name)  = ["roles/storage.objectViewer"]
    (google_storage_bucket.artifacts.name) = ["roles/storage.objectViewer"]
  }
  publish_topics = [google_pubsub_topic.run_events.name]
}

module "poller" {
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "poller"
  entry_point           = "on_poll_tick"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  memory                = "512Mi"
  timeout_seconds       = 300
  max_instances         = 1 # one sweep at a time; ticks are idempotent anyway
  pubsub_service_agent  = local.pubsub_agent
  dead_letter_topic_id  = google_pubsub_topic.dead_letter.id
  max_delivery_attempts = var.max_delivery_attempts

  trigger = {
    type     = "pubsub"
    topic_id = google_pubsub_topic.poll_tick.id
  }

  project_roles = ["roles/aiplatform.user", "roles/datastore.user"]
  # Launches queued runs itself: the same pre-launch check of the copies and test set; writes
  # the lifecycle warnings' sent-once markers and the catalog check's report (lifecycle/).
  bucket_roles = {
    (google_storage_bucket.datasets.name)  = ["roles/storage.objectViewer"]
    (google_storage_bucket.artifacts.name) = ["roles/storage.objectUser"]
  }
  publish_topics = [
    google_pubsub_topic.evaluation_requested.name,
    google_pubsub_topic.run_events.name,
  ]
}

module "evaluator" {
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "evaluator"
  entry_point           = "on_evaluation_requested"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  memory                = "1Gi"
  timeout_seconds       = 540
  max_instances         = 5
  pubsub_service_agent  = local.pubsub_agent
  dead_letter_topic_id  = google_pubsub_topic.dead_letter.id
  max_delivery_attempts = var.max_delivery_attempts

  trigger = {
    type     = "pubsub"
    topic_id = google_pubsub_topic.evaluation_requested.id
  }

  project_roles = ["roles/aiplatform.user", "roles/datastore.user"]
  bucket_roles = {
    (google_storage_bucket.datasets.name)  = ["roles/storage.objectViewer"]
    (google_storage_bucket.artifacts.name) = ["roles/storage.objectUser"]
  }
  publish_topics = [google_pubsub_topic.run_events.name]
}

# Fed by the dead-letter topic: moves the poison message's run to FAILED with where to look.
# Its own subscription retries for the week messages are retained (it cannot dead-letter into
# the topic it reads); the hold subscription in pubsub.tf keeps a copy for people either way.
module "deadletter" {
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "deadletter"
  entry_point           = "on_dead_letter"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  memory                = "256Mi"
  timeout_seconds       = 60
  max_instances         = 3
  pubsub_service_agent  = local.pubsub_agent
  dead_letter_sink      = true

  trigger = {
    type     = "pubsub"
    topic_id = google_pubsub_topic.dead_letter.id
  }

  project_roles  = ["roles/datastore.user"]
  bucket_roles   = {}
  publish_topics = [google_pubsub_topic.run_events.name]
}

module "status" {
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "status"
  entry_point           = "status_page"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  memory                = "256Mi"
  timeout_seconds       = 60
  max_instances         = 3
  ingress               = var.status_ingress
  invokers              = var.status_viewers
  pubsub_service_agent  = local.pubsub_agent

  trigger = {
    type = "http"
  }

  project_roles = ["roles/datastore.viewer"]
  bucket_roles = {
    (google_storage_bucket.artifacts.name) = ["roles/storage.objectViewer"]
  }
  publish_topics = []
}

# Optional: posts run outcomes and warnings from the run-events topic to a chat webhook whose URL
# is the latest version of Secret Manager secret var.notifier_webhook_secret (created by you, so
# the URL never appears in Terraform state). A failed post is logged; it never affects a run.
module "notifier" {
  count  = var.notifier_webhook_secret == null ? 0 : 1
  source = "./modules/function"

  project_id            = terraform_data.ready.output.project_id
  build_service_account = terraform_data.ready.output.build_account
  region                = var.region
  name_prefix           = local.prefix
  function              = "notifier"
  entry_point           = "on_run_event"
  source_root           = local.source_root
  source_bucket         = google_storage_bucket.sources.name
  environment           = local.function_env
  secret_environment    = { NOTIFY_URL = coalesce(var.notifier_webhook_secret, "unused") }
  memory                = "256Mi"
  timeout_seconds       = 60
  max_instances         = 3
  pubsub_service_agent  = local.pubsub_agent
  dead_letter_topic_id  = google_pubsub_topic.dead_letter.id
  max_delivery_attempts = var.max_delivery_attempts

  trigger = {
    type     = "pubsub"
    topic_id = google_pubsub_topic.run_events.id
  }

  project_roles  = []
  bucket_roles   = {}
  publish_topics = []
}
