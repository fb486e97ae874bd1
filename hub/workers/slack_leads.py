"""Slack follow-ups of ``/lead``: work too slow for Slack's 3 s (Slack look-ups, more pages, a
card after the form). They work as ``/deal``'s do and are declared by what those share
(``slack_crm.py``): each takes ids, checks again who asks and what they may do, and answers
through the ``response_url`` of the command or click; delivered twice, a job changes nothing
twice. Only a 429 is tried again (after a backoff), a users.info look-up's too.
"""

from __future__ import annotations

from hub.bots.lead_cards import LEADS, list_page
from hub.workers.slack_crm import assign_actor, created_actor, page_actor

slack_lead_assign = assign_actor(LEADS, "slack_lead_assign")
slack_lead_page = page_actor("slack_lead_page", list_page)
slack_lead_created = created_actor(LEADS, "slack_lead_created")
