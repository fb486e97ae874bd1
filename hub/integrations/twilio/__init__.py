"""Twilio: signed voice webhooks into a durable inbox (app ``hub_twilio``), the REST client."""
