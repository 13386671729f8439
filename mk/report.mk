# report.html is checked in a real browser (tests/unit/evaluation/test_report_html.py): Debian's
# chromium renders it to PDF, poppler-utils' pdftotext reads back what a reader sees, and
# fonts-noto-cjk draws the Chinese. Installed here when missing (apt-get needs root, as on CI).
.PHONY: report-browser

report-browser:
	@command -v chromium >/dev/null && command -v pdftotext >/dev/null && fc-list 2>/dev/null | grep -qi cjk || { \
	  echo "installing chromium, poppler-utils and fonts-noto-cjk for the report.html test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium poppler-utils fonts-noto-cjk >/dev/null; }

TEST_EXTRA += report-browser
