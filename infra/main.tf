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

# Eventarc's service agent is minted lazily as well: the validator's storage trigger, created on
# the first apply before the agent exists or before its role has reached Eventarc, fails with
# "Permission denied while using the Eventarc Service Agent" (terraform-provider-google #14584,
# #25294). Minted here; the functions wait for it (time_sleep.iam_propagation, functions.tf).
resource "google_project_service_identity" "eventarc" {
  provider = google-beta
  project  = var.project_id
  service  = "eventarc.googleapis.com"

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
# only exists after a first job. It reads each run's own copies of its training data and nothing
# else: the validator copies the validated generations (or writes the redacted copies) under
# tuning-inputs/<run_id>/ in the artifacts bucket (shared/pipeline/layout.py), and the grant is
# conditioned on that prefix. Not the datasets bucket (uploads nobody validated yet), not runs/
# (reports, predictions). Cloud Storage evaluates `resource.name` as
# projects/_/buckets/<bucket>/objects/<object> (IAM docs, "Resource attributes for IAM
# Conditions"; checked 2026-12-03); the artifacts bucket has uniform bucket-level access, which
# conditions require.
resource "google_service_account" "tuning" {
  project      = var.project_id
  account_id   = "${local.prefix}-tuning"
  display_name = "Gemini tuning pipeline: tuning jobs run as this"
  description  = "TuningJob.service_account of every job the pipeline starts; reads tuning-inputs/ in the artifacts bucket only."

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "tuning_reads_inputs" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.tuning.email}"

  condition {
    title       = "tuning-inputs only"
    description = "Each run's immutable copies of what it was validated with: what Vertex AI trains on."
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.artifacts.name}/objects/tuning-inputs/\")"
  }
}

# Batch inference jobs (large evaluations, shared/pipeline/batch_eval.py) run as the AI Platform
# Service Agent: the batch-inference page ("Batch inference from Cloud Storage", checked
# 2026-12-03) says it must be able to read the input file, and it writes the answers under the
# job's output prefix. Both live under batch-inference/<run_id>/ in the artifacts bucket
# (shared/pipeline/layout.py); the grant is conditioned on that prefix.
resource "google_storage_bucket_iam_member" "batch_agent_uses_batch_inference" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_project_service_identity.aiplatform.email}"

  condition {
    title       = "batch-inference only"
    description = "Batch evaluations' request files and the answers Vertex AI writes beside them."
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.artifacts.name}/objects/batch-inference/\")"
  }
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
