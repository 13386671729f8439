# Emulators for the Google Cloud adapter contract tests (tests/contract/backend_gcp.py).
# The test fixtures start fake-gcs-server, the Pub/Sub gRPC fake and the npm Firestore fake
# themselves (npm ci on first use). `make test` also runs the gcp contract suites against Google's
# official Firestore and Pub/Sub emulators (the gcloud SDK on the machine image; real transaction
# conflicts), started and stopped by tools/with_emulators.py: `official-emulators`.
.PHONY: emulators test-gcp-official official-emulators

official-emulators: $(STAMP)
	$(BIN)/python tools/with_emulators.py -- $(BIN)/pytest -q -p no:cacheprovider tests/contract -k gcp

TEST_EXTRA += official-emulators

FIRESTORE_FAKE := tests/fakes/firestore

# Install the npm Firestore fake now (idempotent: skipped while node_modules is up to date).
emulators: $(FIRESTORE_FAKE)/node_modules/.package-lock.json

$(FIRESTORE_FAKE)/node_modules/.package-lock.json: $(FIRESTORE_FAKE)/package-lock.json
	cd $(FIRESTORE_FAKE) && npm ci --no-audit --no-fund --loglevel=error

# Run the gcp contract suites against already running official emulators, e.g.
#   gcloud emulators firestore start --host-port=127.0.0.1:8681 &
#   gcloud beta emulators pubsub start --host-port=127.0.0.1:8682 &
#   make test-gcp-official FIRESTORE_EMULATOR_HOST=127.0.0.1:8681 PUBSUB_EMULATOR_HOST=127.0.0.1:8682
test-gcp-official: $(STAMP)
	@test -n "$(FIRESTORE_EMULATOR_HOST)" -a -n "$(PUBSUB_EMULATOR_HOST)" || { echo "set FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST to running official emulators"; exit 2; }
	FIRESTORE_EMULATOR_HOST=$(FIRESTORE_EMULATOR_HOST) PUBSUB_EMULATOR_HOST=$(PUBSUB_EMULATOR_HOST) \
	  $(BIN)/pytest -q tests/contract -k gcp
