# The browser the tests render pages in: Debian's headless `chromium` for the status page
# (tests/e2e/test_status_browser.py) and for report.html (tests/unit/evaluation/
# test_report_html.py, which also reads the PDF back with poppler-utils' pdftotext and needs
# fonts-noto-cjk to draw the Chinese). One policy for all three packages: `make test` installs
# whichever is missing with apt-get, as root or through sudo without a password; when neither
# is possible it says so and the tests that need them report their skip.
.PHONY: browser
TEST_EXTRA += browser

BROWSER_PACKAGES := chromium poppler-utils fonts-noto-cjk

browser:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } \
	  && command -v pdftotext >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi cjk || { \
	  echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	      --no-install-recommends $(BROWSER_PACKAGES) >/dev/null ) \
	    || echo "could not install $(BROWSER_PACKAGES): the browser tests will say why they skip"; }
