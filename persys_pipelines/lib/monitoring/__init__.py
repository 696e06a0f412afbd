"""Watching the system: tier usage and history (`usage`), the quota guard (`quota`),
forecasts (`forecast`), endpoint health and incidents (`health`), costs (`costs`), alerts
(`notify`), the daily report (`report`) and `persys status` (`status`).

The top of the stack: may import every other concern of lib/.
"""
