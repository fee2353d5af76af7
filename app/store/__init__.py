"""The only layer that talks to Redis or imports rq."""
