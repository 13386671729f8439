# Run records: one document per run in `var.runs_collection`.

resource "google_firestore_database" "runs" {
  project                           = var.project_id
  name                              = var.firestore_database
  location_id                       = local.firestore_loc
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

# RunStore.list_by_status: `status IN [...]` ordered by `created_at` ascending (the launcher's
# queue and the poller's watch list). list_recent (`created_at` descending) is served by
# Firestore's automatic single-field index and needs no declaration.
resource "google_firestore_index" "runs_by_status_created" {
  project    = var.project_id
  database   = google_firestore_database.runs.name
  collection = var.runs_collection

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "created_at"
    order      = "ASCENDING"
  }
}
