"""The rule language of ``emails_emailrule``: which conditions and actions each trigger takes,
and what is wrong with a rule (:func:`rule_problems`). The reference is docs/email-rules.md.

Pure and cheap: no queries, except reading ``rule.template`` when a sending action needs it
(load rules with ``select_related("template")`` and there is none).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from hub.domain.crm.models import ActivityType, DealStatus, LeadSource, LeadStatus
from hub.domain.emails.models import Direction, EmailRule, RuleTrigger, ThreadCategory

EMAIL_TRIGGERS = frozenset({RuleTrigger.EMAIL_RECEIVED.value, RuleTrigger.EMAIL_SENT.value})
RECORD_TRIGGERS = frozenset({RuleTrigger.LEAD_CREATED.value, RuleTrigger.DEAL_CREATED.value})
ALL_TRIGGERS = EMAIL_TRIGGERS | RECORD_TRIGGERS
#: The triggers a sending action may run on: never on outbound mail (``email_sent``).
SEND_TRIGGERS = ALL_TRIGGERS - {RuleTrigger.EMAIL_SENT.value}
SEND_ACTIONS = ("send_template_reply", "send_email")
TASK_KEYS = frozenset({"subject", "due_in_days"})
MAX_TEXTS = 50
MAX_TEXT_CHARS = 255
MAX_DUE_DAYS = 3650
MAX_USERS = 50

# A check takes the value and the rule's trigger; it returns what is wrong, or None.
Check = Callable[[Any, str], str | None]


def kind_of(value: Any) -> str:
    """How a JSON value is named in a problem: "a number", "a list"…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def texts(value: Any) -> list[str]:
    """A text-or-list value as a list (the shape every matcher reads)."""
    return [value] if isinstance(value, str) else list(value)


def domain_of(text: str) -> str:
    """A domain as written in a rule ("@Example.com") in the form compared ("example.com")."""
    return text.strip().lower().lstrip("@").rstrip(".")


def _listed(options: list[str]) -> str:
    return ", ".join(options)


# --- value checks -----------------------------------------------------------------------------


def _text_list(value: Any, each: Callable[[str], str | None] | None = None) -> str | None:
    items = value if isinstance(value, list) else [value]
    if not isinstance(value, str | list) or not all(isinstance(i, str) for i in items):
        return f"must be a text or a list of texts, not {kind_of(value)}"
    if not items:
        return "lists nothing: give at least one text"
    if len(items) > MAX_TEXTS:
        return f"lists {len(items)} texts; at most {MAX_TEXTS}"
    for item in items:
        if not item.strip():
            return "has an empty text, which would match everything"
        if len(item) > MAX_TEXT_CHARS:
            return f"has a text over {MAX_TEXT_CHARS} characters"
        wrong = each(item.strip()) if each else None
        if wrong:
            return wrong
    return None


def _domain(item: str) -> str | None:
    name = domain_of(item)
    if "@" in name or " " in name or "." not in name:
        return f"“{item}” is not a domain like example.com"
    return None


def _address(item: str) -> str | None:
    try:
        validate_email(item)
    except ValidationError:
        return f"“{item}” is not an e-mail address"
    return None


def _address_or_domain(item: str) -> str | None:
    return _address(item) if "@" in item.strip().lstrip("@") else _domain(item)


def _texts(value: Any, trigger: str) -> str | None:
    return _text_list(value)


def _domains(value: Any, trigger: str) -> str | None:
    return _text_list(value, _domain)


def _addresses(value: Any, trigger: str) -> str | None:
    return _text_list(value, _address)


def _participants(value: Any, trigger: str) -> str | None:
    return _text_list(value, _address_or_domain)


def _bool(value: Any, trigger: str) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {kind_of(value)}"


def _one_of(options: list[str]) -> Check:
    def check(value: Any, trigger: str) -> str | None:
        wrong = _text_list(value)
        if wrong:
            return wrong
        unknown = [item for item in texts(value) if item not in options]
        if unknown:
            return f"has “{unknown[0]}”, which is not one of {_listed(options)}"
        return None

    return check


def _status(value: Any, trigger: str) -> str | None:
    choices = LeadStatus if trigger == RuleTrigger.LEAD_CREATED else DealStatus
    return _one_of(list(choices.values))(value, trigger)


def _number(value: Any, trigger: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number like 1000, not {kind_of(value)}"
    return None


def _category(value: Any, trigger: str) -> str | None:
    if not isinstance(value, str) or value not in ThreadCategory.values:
        shown = f"“{value}”" if isinstance(value, str) else kind_of(value)
        return f"must be one of {_listed(ThreadCategory.values)}, not {shown}"
    return None


def _user_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _user_ids(value: Any, trigger: str) -> str | None:
    if not isinstance(value, list) or not all(_user_id(item) for item in value):
        return f"must be a list of user ids like [1, 2], not {kind_of(value)}"
    if len(value) > MAX_USERS:
        return f"lists {len(value)} users; at most {MAX_USERS}"
    return None


def _assignee(value: Any, trigger: str) -> str | None:
    return None if _user_id(value) else f"must be a user id like 7, not {kind_of(value)}"


def _object(value: Any, keys: Mapping[str, Check], example: str) -> str | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, dict):
        return f"must be true, false or an object like {example}, not {kind_of(value)}"
    unknown = sorted(set(value) - set(keys))
    if unknown:
        return f"has the unknown key “{unknown[0]}”; its keys are {_listed(list(keys))}"
    for key, check in keys.items():
        wrong = check(value[key], "") if key in value else None
        if wrong:
            return f"{key} {wrong}"
    return None


def _subject(value: Any, trigger: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"must be a non-empty text, not {kind_of(value)}"
    return f"is over {MAX_TEXT_CHARS} characters" if len(value) > MAX_TEXT_CHARS else None


def _days(value: Any, trigger: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number of days, not {kind_of(value)}"
    return None if 0 <= value <= MAX_DUE_DAYS else f"must be from 0 to {MAX_DUE_DAYS} days"


_TASK = {"subject": _subject, "due_in_days": _days}
_ACTIVITY = {**_TASK, "type": _one_of(list(ActivityType.values))}


def _task(value: Any, trigger: str) -> str | None:
    return _object(value, _TASK, '{"subject": "Call back", "due_in_days": 1}')


def _activity(value: Any, trigger: str) -> str | None:
    return _object(value, _ACTIVITY, '{"type": "email", "subject": "Logged"}')


def _new_lead(value: Any, trigger: str) -> str | None:
    return _object(value, {"source": _one_of(list(LeadSource.values))}, '{"source": "website"}')


def _no_tags(value: Any, trigger: str) -> str | None:
    return "cannot run: the CRM has no tags (use set_category to label the thread)"


# --- the language -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    check: Check
    triggers: frozenset[str]


CONDITIONS: dict[str, Key] = {
    "subject_contains": Key(_texts, EMAIL_TRIGGERS),
    "body_contains": Key(_texts, EMAIL_TRIGGERS),
    "from_domain": Key(_domains, EMAIL_TRIGGERS),
    "from_email": Key(_addresses, EMAIL_TRIGGERS),
    "participant_contains": Key(_participants, ALL_TRIGGERS),
    "has_attachment": Key(_bool, EMAIL_TRIGGERS),
    "direction": Key(_one_of(list(Direction.values)), EMAIL_TRIGGERS),
    "status": Key(_status, RECORD_TRIGGERS),
    "source": Key(_one_of(list(LeadSource.values)), RECORD_TRIGGERS),
    "stage": Key(_texts, frozenset({RuleTrigger.DEAL_CREATED.value})),
    "value_gte": Key(_number, RECORD_TRIGGERS),
}

ACTIONS: dict[str, Key] = {
    "set_category": Key(_category, EMAIL_TRIGGERS),
    "create_lead": Key(_new_lead, frozenset({RuleTrigger.EMAIL_RECEIVED.value})),
    "assign_user": Key(_assignee, ALL_TRIGGERS),
    "create_task": Key(_task, ALL_TRIGGERS),
    "create_activity": Key(_activity, ALL_TRIGGERS),
    "notify_users": Key(_user_ids, ALL_TRIGGERS),
    "send_template_reply": Key(_bool, SEND_TRIGGERS),
    "send_email": Key(_bool, SEND_TRIGGERS),
    "add_tag": Key(_no_tags, ALL_TRIGGERS),
}


def action_is_on(value: Any) -> bool:
    """Whether an action's value asks for something (``false`` and ``[]`` switch it off)."""
    return value is not False and value != [] and value is not None


def _not_an_object(part: str, value: Any) -> str:
    example = (
        '{"subject_contains": ["urgent"]}' if part == "conditions" else '{"set_category": "lead"}'
    )
    problem = f"The {part} must be a JSON object like {example}, not {kind_of(value)}."
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            problem += " It holds an object written as text: store the object itself."
    return problem


def _key_problems(part: str, given: dict, language: dict[str, Key], trigger: str) -> list[str]:
    noun = "condition" if part == "conditions" else "action"
    problems = []
    for name, value in given.items():
        key = language.get(name)
        if key is None:
            close = difflib.get_close_matches(str(name), list(language), n=1)
            hint = (
                f" Did you mean {close[0]}?" if close else f" They are {_listed(list(language))}."
            )
            problems.append(f"Unknown {noun} “{name}”.{hint}")
        elif trigger not in key.triggers:
            problems.append(
                f"The {noun} {name} does not apply to {trigger} rules "
                f"(only to {_listed(sorted(key.triggers))})."
            )
        elif (wrong := key.check(value, trigger)) is not None:
            problems.append(f"The {noun} {name} {wrong}.")
    return problems


def _template_problems(rule: EmailRule, sending: list[str]) -> list[str]:
    if len(sending) > 1:
        return ["Use send_template_reply or send_email, not both: each sends the template."]
    if rule.template_id is None:
        return [f"The action {sending[0]} needs the rule's template: choose one."]
    template = rule.template
    if template is None:
        return [f"The action {sending[0]} needs the rule's template: choose one."]
    if template.company_id != rule.company_id:
        return [f"The template “{template.name}” belongs to another company."]
    if not template.is_active:
        return [f"The template “{template.name}” is switched off."]
    return []


def rule_problems(rule: EmailRule) -> list[str]:
    """What keeps the rule from running, in sentences; empty when it can run."""
    if rule.trigger not in ALL_TRIGGERS:
        return [
            f"The trigger “{rule.trigger}” is unknown; it is one of {_listed(RuleTrigger.values)}."
        ]
    problems = []
    conditions, actions = rule.conditions, rule.actions
    if not isinstance(conditions, dict):
        problems.append(_not_an_object("conditions", conditions))
    else:
        problems += _key_problems("conditions", conditions, CONDITIONS, rule.trigger)
    if not isinstance(actions, dict):
        problems.append(_not_an_object("actions", actions))
        return problems
    problems += _key_problems("actions", actions, ACTIONS, rule.trigger)
    if not any(action_is_on(value) for value in actions.values()):
        problems.append("The rule has no actions, so it would never do anything.")
    sending = [name for name in SEND_ACTIONS if actions.get(name) is True]
    if sending and rule.trigger in SEND_TRIGGERS:
        problems += _template_problems(rule, sending)
    return problems
