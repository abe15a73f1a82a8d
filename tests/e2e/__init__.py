"""End-to-end tests: the bot as separate processes (web, worker, cron, the WeCom stand-in)."""
