# Google's own artifacts as the judge (tests/fidelity): the Vertex AI v1 discovery document
# shipped in the pinned google-api-python-client, recorded Vertex replies from
# GoogleCloudPlatform/generative-ai and googleapis/google-cloudevents samples and schemas.
#   make test-fidelity   ~10 s, no network; also collected by `make unit`
.PHONY: test-fidelity

test-fidelity: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/fidelity

TEST_EXTRA += test-fidelity
