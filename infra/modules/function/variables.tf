variable "project_id" {
  description = "Project that hosts the function."
  type        = string
}

variable "region" {
  description = "Region of the function, its trigger and its push subscription."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the deployed function and its service accounts."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.name_prefix))
    error_message = "name_prefix must be 2-8 lowercase letters or digits, starting with a letter."
  }
}

variable "function" {
  description = "Folder under functions/ that holds main.py and requirements.txt."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,14}$", var.function))
    error_message = "function must be the folder name under functions/ (3-15 lowercase letters or digits)."
  }
}

variable "entry_point" {
  description = "Name of the decorated handler in functions/<function>/main.py."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.entry_point))
    error_message = "entry_point must be a Python identifier."
  }
}

variable "source_root" {
  description = "Repository root: the zip holds functions/<function>/* plus shared/ from here."
  type        = string
}

variable "source_bucket" {
  description = "Bucket that receives the content-addressed source zip."
  type        = string
}

variable "build_service_account" {
  description = "Service account id (projects/P/serviceAccounts/E) that Cloud Build uses to build the function."
  type        = string
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python311"
  validation {
    condition     = can(regex("^python3[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime such as python311."
  }
}

variable "memory" {
  description = "Memory of one instance, e.g. 512Mi or 1Gi."
  type        = string
  default     = "512Mi"
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory must look like 256Mi, 512Mi, 1Gi or 2Gi."
  }
}

variable "timeout_seconds" {
  description = "Request timeout; for Pub/Sub push it must not exceed the 600 s ack deadline."
  type        = number
  default     = 60
  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be from 10 to 3600."
  }
}

variable "max_instances" {
  description = "Upper bound on instances (caps cost and fan-out against Vertex AI quotas)."
  type        = number
  default     = 10
  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances must be from 1 to 1000."
  }
}

variable "ingress" {
  description = "Ingress setting; internal only unless a caller outside the project must reach it."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_ALL"], var.ingress)
    error_message = "ingress must be ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB or ALLOW_ALL."
  }
}

variable "environment" {
  description = "Environment variables of the function (the Settings the code reads)."
  type        = map(string)
}

variable "trigger" {
  description = "How the function is invoked: storage (Eventarc object finalized on `bucket`), pubsub (push subscription on `topic_id`) or http."
  type = object({
    type     = string
    bucket   = optional(string)
    topic_id = optional(string)
  })
  validation {
    condition     = contains(["storage", "pubsub", "http"], var.trigger.type)
    error_message = "trigger.type must be storage, pubsub or http."
  }
  validation {
    condition     = var.trigger.type != "storage" || var.trigger.bucket != null
    error_message = "A storage trigger needs trigger.bucket."
  }
  validation {
    condition     = var.trigger.type != "pubsub" || var.trigger.topic_id != null
    error_message = "A pubsub trigger needs trigger.topic_id."
  }
}

variable "dead_letter_topic_id" {
  description = "Dead-letter topic id for the push subscription (pubsub trigger; null only for the dead-letter sink)."
  type        = string
  default     = null
}

variable "dead_letter_sink" {
  description = "True for the function fed by the dead-letter topic itself: its push subscription has no dead-letter policy (it would loop) and keeps acknowledged messages for replay."
  type        = bool
  default     = false
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message is dead-lettered (5-100)."
  type        = number
  default     = 10
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be from 5 to 100."
  }
}

variable "pubsub_service_agent" {
  description = "Pub/Sub service agent member; it mints OIDC tokens and handles dead letters."
  type        = string
}

variable "project_roles" {
  description = "Project-level roles of the function's account: only for APIs without a narrower binding."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for r in var.project_roles : !contains(["roles/owner", "roles/editor", "roles/viewer"], r)])
    error_message = "Primitive roles (owner, editor, viewer) are not allowed."
  }
}

variable "bucket_roles" {
  description = "Bucket name -> roles granted on that bucket only."
  type        = map(list(string))
  default     = {}
}

variable "publish_topics" {
  description = "Topic names the function publishes to (roles/pubsub.publisher on each topic)."
  type        = list(string)
  default     = []
}

variable "invokers" {
  description = "Extra IAM members allowed to invoke the function (HTTP functions)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.invokers : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "Public invokers are not allowed."
  }
}

variable "labels" {
  description = "Labels on the function."
  type        = map(string)
  default     = {}
}

variable "secret_environment" {
  description = "Environment variable name -> Secret Manager secret id (same project): Cloud Run injects the latest version at start, and the runtime account may read exactly these secrets."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.secret_environment : can(regex("^[A-Z][A-Z0-9_]*$", k)) && can(regex("^[A-Za-z0-9_-]{1,255}$", v))])
    error_message = "secret_environment maps UPPER_CASE variable names to secret ids (letters, digits, '-', '_')."
  }
}
