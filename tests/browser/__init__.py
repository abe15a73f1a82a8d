"""Browser tests: the simulator in headless chromium, against the bot as separate processes."""
