"""Triggers that fire functions: timers (APScheduler + FC's cron dialect) and event sources."""
