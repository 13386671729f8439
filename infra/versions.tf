terraform {
  required_version = ">= 1.5.0"

  # Remote state: `terraform init -backend-config="bucket=<state bucket>"` (see docs/DEPLOY.md).
  backend "gcs" {
    prefix = "gemini-tuning-pipeline"
  }

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    # Only for google_project_service_identity, which mints service agents before first use.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.50"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
    # time_sleep: waits for IAM propagation and for new log-based metrics (functions.tf,
    # monitoring.tf).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
