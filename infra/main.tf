# Root module: the whole pipeline in one project. Files are split by what they hold:
# storage.tf, pubsub.tf, firestore.tf, functions.tf, scheduler.tf, monitoring.tf.

locals {
  prefix           = var.name_prefix
  datasets_bucket  = var.datasets_bucket_name != "" ? var.datasets_bucket_name : "${var.project_id}-${var.name_prefix}-datasets"
  artifacts_bucket = var.artifacts_bucket_name != "" ? var.artifacts_bucket_name : "${var.project_id}-${var.name_prefix}-artifacts"
  sources_bucket   = "${var.project_id}-${var.name_prefix}-fn-sources"
  firestore_loc    = coalesce(var.firestore_location, var.region)
  # Service agents that act on the project's behalf (their e-mail scheme is fixed by Google).
  pubsub_agent = "serviceAccount:${google_project_service_identity.pubsub.email}"
  gcs_agent    = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"

  # cloudresourcemanager and serviceusage must already be on before the first plan (Terraform
  # reads the project and enables the rest through them; docs/DEPLOY.md); listed to keep them on.
  apis = toset([
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "secretmanager.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project = var.project_id
  service = each.value
  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}

# Service agents are created lazily by Google; minting them first lets the IAM below apply on
# the first `terraform apply` of an empty project.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  project  = var.project_id
  service  = "pubsub.googleapis.com"

  depends_on = [google_project_service.apis]
}

resource "google_project_service_identity" "aiplatform" {
  provider = google-beta
  project  = var.project_id
  service  = "aiplatform.googleapis.com"

  depends_on = [google_project_service.apis]
}

data "google_storage_project_service_account" "gcs" {
  project = var.project_id

  depends_on = [google_project_service.apis]
}

# Eventarc's Cloud Storage triggers publish through a Pub/Sub topic that Eventarc creates and
# names itself, so the Cloud Storage service agent needs publisher on the project: no
# topic-level binding can exist before the topic does.
resource "google_project_iam_member" "gcs_agent_pubsub_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = local.gcs_agent
}

# Pub/Sub mints the OIDC tokens of push subscriptions and Eventarc triggers. Projects created
# before 2021-04-08 need this grant; newer ones have it implicitly. Bound on each token
# account (modules/function), not on the project.

# Tuning jobs run as this account (TuningJob.service_account, set from TUNING_SERVICE_ACCOUNT):
# without it they run as Vertex's Secure Fine-Tuned Service Agent (gcp-sa-vertex-tune), which
# only exists after a first job. It reads the training data and nothing else.
resource "google_service_account" "tuning" {
  project      = var.project_id
  account_id   = "${local.prefix}-tuning"
  display_name = "Gemini tuning pipeline: tuning jobs run as this"
  description  = "TuningJob.service_account of every job the pipeline starts; reads the datasets bucket only."
}

resource "google_storage_bucket_iam_member" "tuning_reads_datasets" {
  bucket = google_storage_bucket.datasets.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.tuning.email}"
}

# Starting a job that runs as the tuning account needs iam.serviceAccounts.actAs on it: only the
# functions that create jobs (the launcher, and the poller, which launches queued runs).
resource "google_service_account_iam_member" "launchers_act_as_tuning" {
  for_each = {
    launcher = module.launcher.service_account_email
    poller   = module.poller.service_account_email
  }

  service_account_id = google_service_account.tuning.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${each.value}"
}

# CMEK: the service agents that encrypt on our behalf need the key (only when a key is given).
# Static keys: the agents' e-mails are only known after apply, and for_each keys must be known
# at plan time.
resource "google_kms_crypto_key_iam_member" "cmek" {
  for_each = var.kms_key_name == null ? {} : { gcs = local.gcs_agent, pubsub = local.pubsub_agent }

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
