variable "project_id" {
  description = "Google Cloud project that hosts the whole pipeline."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits, hyphens), not a name or number."
  }
}

variable "region" {
  description = "Region for buckets, functions, Eventarc, Pub/Sub push and Cloud Scheduler."
  type        = string
  default     = "us-central1"
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Cloud region such as us-central1 (not a zone or multi-region)."
  }
}

variable "vertex_location" {
  description = "Vertex AI region where tuning jobs run and tuned endpoints live."
  type        = string
  default     = "us-central1"
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.vertex_location))
    error_message = "vertex_location must be a Vertex AI region that offers Gemini tuning, e.g. us-central1."
  }
}

variable "firestore_location" {
  description = "Firestore location; null uses var.region (a regional location keeps latency low)."
  type        = string
  default     = null
  validation {
    condition     = var.firestore_location == null || can(regex("^[a-z0-9-]+$", coalesce(var.firestore_location, "x")))
    error_message = "firestore_location must be a Firestore location id such as us-central1 or nam5."
  }
}

variable "name_prefix" {
  description = "Prefix for every resource name, so several stacks can share a project."
  type        = string
  default     = "gtp"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.name_prefix))
    error_message = "name_prefix must be 2-8 lowercase letters or digits, starting with a letter (service account ids are short)."
  }
}

variable "datasets_bucket_name" {
  description = "Name of the bucket teams drop datasets into; empty derives <project>-<prefix>-datasets."
  type        = string
  default     = ""
  validation {
    condition     = var.datasets_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.datasets_bucket_name))
    error_message = "datasets_bucket_name must be a valid bucket name (3-63 lowercase letters, digits, '-', '_', '.') or empty."
  }
}

variable "artifacts_bucket_name" {
  description = "Name of the bucket for reports; empty derives <project>-<prefix>-artifacts."
  type        = string
  default     = ""
  validation {
    condition     = var.artifacts_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.artifacts_bucket_name))
    error_message = "artifacts_bucket_name must be a valid bucket name (3-63 lowercase letters, digits, '-', '_', '.') or empty."
  }
}

variable "kms_key_name" {
  description = "Optional CMEK key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for buckets and topics; null uses Google-managed keys."
  type        = string
  default     = null
  validation {
    condition     = var.kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", coalesce(var.kms_key_name, "x")))
    error_message = "kms_key_name must be a full crypto key name: projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "artifacts_retention_days" {
  description = "Reports older than this are deleted from the artifacts bucket."
  type        = number
  default     = 365
  validation {
    condition     = var.artifacts_retention_days >= 7 && var.artifacts_retention_days <= 3650 && floor(var.artifacts_retention_days) == var.artifacts_retention_days
    error_message = "artifacts_retention_days must be a whole number of days from 7 to 3650."
  }
}

variable "noncurrent_version_days" {
  description = "Overwritten or deleted object versions are kept this many days (undo window)."
  type        = number
  default     = 30
  validation {
    condition     = var.noncurrent_version_days >= 1 && var.noncurrent_version_days <= 365 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of days from 1 to 365."
  }
}

variable "firestore_database" {
  description = "Firestore database id for run records (a named database avoids clashing with an existing (default))."
  type        = string
  default     = "gemini-tuning"
  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be (default) or 4-63 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "runs_collection" {
  description = "Firestore collection that holds one document per run."
  type        = string
  default     = "tuning_runs"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,99}$", var.runs_collection))
    error_message = "runs_collection must be a simple collection id (letters, digits, '_' or '-', starting with a letter)."
  }
}

variable "production_collection" {
  description = "Firestore collection of the production model record (one document per promotion or rollback; a serving system reads the newest)."
  type        = string
  default     = "production_models"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,99}$", var.production_collection))
    error_message = "production_collection must be a simple collection id (letters, digits, '_' or '-', starting with a letter)."
  }
}

variable "max_concurrent_jobs" {
  description = "Tuning jobs allowed at once; keep at or below the project's 'global concurrent tuning jobs' quota."
  type        = number
  default     = 1
  validation {
    condition     = var.max_concurrent_jobs >= 1 && var.max_concurrent_jobs <= 100 && floor(var.max_concurrent_jobs) == var.max_concurrent_jobs
    error_message = "max_concurrent_jobs must be a whole number from 1 to 100."
  }
}

variable "max_event_age_seconds" {
  description = "Events older than this are dropped with a log line instead of retried (Eventarc retries for up to 24 h)."
  type        = number
  default     = 86400
  validation {
    condition     = var.max_event_age_seconds >= 60 && var.max_event_age_seconds <= 604800 && floor(var.max_event_age_seconds) == var.max_event_age_seconds
    error_message = "max_event_age_seconds must be a whole number from 60 to 604800 (7 days)."
  }
}

variable "default_source_model" {
  description = "Base model when a dataset's tuning.yaml does not name one (see `gemini-tuning models`)."
  type        = string
  default     = "gemini-3.5-flash"
  validation {
    condition     = can(regex("^gemini-[0-9a-z.-]+$", var.default_source_model))
    error_message = "default_source_model must be a tunable Gemini model name such as gemini-3.5-flash."
  }
}

variable "default_epochs" {
  description = "Epochs when tuning.yaml does not say; null lets Vertex AI apply its recommended value."
  type        = number
  default     = null
  nullable    = true
  validation {
    condition     = var.default_epochs == null ? true : (var.default_epochs >= 1 && var.default_epochs <= 50 && floor(var.default_epochs) == var.default_epochs)
    error_message = "default_epochs must be null or a whole number from 1 to 50."
  }
}

variable "default_learning_rate_multiplier" {
  description = "Learning-rate multiplier when tuning.yaml does not say; null lets Vertex AI recommend."
  type        = number
  default     = null
  nullable    = true
  validation {
    condition     = var.default_learning_rate_multiplier == null ? true : (var.default_learning_rate_multiplier > 0 && var.default_learning_rate_multiplier <= 10)
    error_message = "default_learning_rate_multiplier must be null, or greater than 0 and at most 10."
  }
}

variable "default_adapter_size" {
  description = "LoRA adapter size when tuning.yaml does not say; null lets Vertex AI recommend."
  type        = number
  default     = null
  nullable    = true
  validation {
    condition     = var.default_adapter_size == null ? true : contains([1, 2, 4, 8, 16], var.default_adapter_size)
    error_message = "default_adapter_size must be null or one of 1, 2, 4, 8, 16."
  }
}

variable "model_catalog_overrides" {
  description = "JSON object of model name -> catalog fields merged over the built-in model catalog (add a model the day it is announced, correct a limit or a price); empty for none."
  type        = string
  default     = ""
  validation {
    condition     = var.model_catalog_overrides == "" || can(keys(jsondecode(var.model_catalog_overrides)))
    error_message = "model_catalog_overrides must be empty or a JSON object of model name -> fields."
  }
}

variable "pii_policy" {
  description = "Personal data found in a dataset: warn (report it), redact (train on a masked copy) or reject (refuse the dataset). A tuning.yaml may only make it stricter."
  type        = string
  default     = "warn"
  validation {
    condition     = contains(["warn", "redact", "reject"], var.pii_policy)
    error_message = "pii_policy must be warn, redact or reject."
  }
}

variable "pii_patterns" {
  description = "A team's own personal-data formats, name -> Python regular expression (e.g. order numbers); found, reported masked, and redacted like the built-in kinds."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k in keys(var.pii_patterns) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "pii_patterns keys must be identifiers (letters, digits and _)."
  }
}

variable "allow_unlisted_models" {
  description = "Accept base models the catalog does not list (limits, lifecycle and price then go unchecked)."
  type        = bool
  default     = false
}

variable "default_eval_sample_size" {
  description = "Examples the evaluator samples when tuning.yaml does not say (each costs two model calls)."
  type        = number
  default     = 50
  validation {
    condition     = var.default_eval_sample_size >= 1 && var.default_eval_sample_size <= 5000 && floor(var.default_eval_sample_size) == var.default_eval_sample_size
    error_message = "default_eval_sample_size must be a whole number from 1 to 5000."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message before Pub/Sub moves it to the dead-letter topic."
  type        = number
  default     = 10
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 100 (the Pub/Sub limits)."
  }
}

variable "poll_schedule" {
  description = "Cron schedule of the poller tick (Cloud Scheduler's minimum is every minute)."
  type        = string
  default     = "* * * * *"
  validation {
    condition     = length(split(" ", trimspace(var.poll_schedule))) == 5
    error_message = "poll_schedule must be a 5-field cron expression, e.g. '* * * * *' or '*/5 * * * *'."
  }
}

variable "status_ingress" {
  description = "Ingress of the status page: ALLOW_INTERNAL_ONLY (default) or ALLOW_ALL with IAM still required for every request."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_ALL"], var.status_ingress)
    error_message = "status_ingress must be ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB or ALLOW_ALL."
  }
}

variable "status_viewers" {
  description = "IAM members allowed to open the status page, e.g. [\"group:ml-team@example.com\"]. Never public."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.status_viewers : can(regex("^(user|group|serviceAccount|domain):", m))])
    error_message = "status_viewers entries must start with user:, group:, serviceAccount: or domain: (allUsers and allAuthenticatedUsers are refused)."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) for the alert policies; empty records incidents without paging."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels entries must be full ids: projects/P/notificationChannels/N."
  }
}

variable "deletion_protection" {
  description = "Protect the Firestore database and refuse to delete non-empty buckets on destroy."
  type        = bool
  default     = true
}

variable "iam_propagation_wait" {
  description = "Wait after the build and Eventarc IAM grants before the first function build (IAM takes minutes to propagate)."
  type        = string
  default     = "120s"
  validation {
    condition     = can(regex("^[0-9]+s$", var.iam_propagation_wait))
    error_message = "iam_propagation_wait must be a number of seconds such as 120s."
  }
}

variable "metric_propagation_wait" {
  description = "Wait after creating the log-based metrics before the alert policies that use them (provider issue #11102)."
  type        = string
  default     = "90s"
  validation {
    condition     = can(regex("^[0-9]+s$", var.metric_propagation_wait))
    error_message = "metric_propagation_wait must be a number of seconds such as 90s."
  }
}

variable "max_run_usd" {
  description = "Refuse, before any tuning job, a run whose estimated cost is above this many USD (tuning.yaml may set a lower budget.max_run_usd); null: no limit."
  type        = number
  default     = null
  validation {
    condition     = var.max_run_usd == null || coalesce(var.max_run_usd, 1) > 0
    error_message = "max_run_usd must be a positive number of USD, or null for no limit."
  }
}

variable "max_month_usd" {
  description = "Refuse a run that would take the estimated cost of the runs started this UTC calendar month above this many USD; null: no limit."
  type        = number
  default     = null
  validation {
    condition     = var.max_month_usd == null || coalesce(var.max_month_usd, 1) > 0
    error_message = "max_month_usd must be a positive number of USD, or null for no limit."
  }
}

variable "max_training_hours" {
  description = "The poller cancels a tuning job that has run longer than this many hours (tuning.yaml may set a lower max_training_hours); null: no limit."
  type        = number
  default     = null
  validation {
    condition     = var.max_training_hours == null || (coalesce(var.max_training_hours, 1) > 0 && coalesce(var.max_training_hours, 1) <= 744)
    error_message = "max_training_hours must be above 0 and at most 744 (31 days), or null for no limit."
  }
}

variable "stuck_after_minutes" {
  description = "A run in one working state longer than this many minutes gets one warning run event and shows as STUCK on the status page; null: off."
  type        = number
  default     = null
  validation {
    condition     = var.stuck_after_minutes == null || (coalesce(var.stuck_after_minutes, 1) >= 1 && coalesce(var.stuck_after_minutes, 1) <= 44640 && floor(coalesce(var.stuck_after_minutes, 1)) == coalesce(var.stuck_after_minutes, 1))
    error_message = "stuck_after_minutes must be a whole number of minutes from 1 to 44640, or null for off."
  }
}

variable "notifier_webhook_secret" {
  description = "Secret Manager secret id (in this project) whose latest version is the chat webhook URL the notifier posts run outcomes to; null deploys no notifier."
  type        = string
  default     = null
  validation {
    condition     = var.notifier_webhook_secret == null || can(regex("^[A-Za-z0-9_-]{1,255}$", coalesce(var.notifier_webhook_secret, "x")))
    error_message = "notifier_webhook_secret must be a secret id (letters, digits, '-', '_'), not a full resource name."
  }
}

variable "notifier_format" {
  description = "Message format of the notifier's webhook: slack, google_chat, wecom, feishu or dingtalk."
  type        = string
  default     = "slack"
  validation {
    condition     = contains(["slack", "google_chat", "wecom", "feishu", "dingtalk"], var.notifier_format)
    error_message = "notifier_format must be slack, google_chat, wecom, feishu or dingtalk."
  }
}
