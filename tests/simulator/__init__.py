"""The browser chat simulator (bot/simulator/)."""
