# Headless Chromium for the status-page browser test (tests/e2e/test_status_browser.py).
# `make test` installs Debian's `chromium` with apt-get where it is missing (as root, or through
# sudo without a password); if that is not possible it says so and the test reports its skip.
.PHONY: browser
TEST_EXTRA += browser

browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the status-page browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium ) \
	    || echo "could not install chromium: the browser test will be skipped (it says why)"; }
