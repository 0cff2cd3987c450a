"""The bot: a webhook server that turns GitHub events into durable jobs and runs them.

config (ServerConfig, load_config) -> events (jobs_for_event) -> queue (JobQueue, SQLite)
-> worker (WorkerPool, handlers by kind) ; serve() wires them under waitress.
"""
