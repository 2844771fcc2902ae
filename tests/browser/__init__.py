"""The tracker in a real browser, as its people use it (Playwright with Debian's Chromium)."""
