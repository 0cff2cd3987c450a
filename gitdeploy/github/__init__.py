"""GitHub: the bot, its commands and policy, the webhook events table, the REST client (PyGithub).

payloads (checked) -> events (jobs_for_event) -> bot (plan/deploy jobs) -> forge (PyGithub)
"""
