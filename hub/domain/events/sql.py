"""PostgreSQL triggers that turn changes of the watched shared tables into events.

Whoever writes the table (the hub, the CRM app, a psql session) gets the same event, built
like hub.domain.events.payloads builds it. A trigger appends the event to ``hub_event_outbox``
inside the writing transaction and NOTIFYs; the relay calls ``hub_event_outbox_move``, which
moves the committed outbox rows into ``hub_event``. A sequence hands out ids in the order
transactions *ask*, not the order they commit; moving at commit gives ``hub_event.id`` in the
order the relay sees commits, so a transaction left open never holds back the events committed
after it, and its own events, whenever it commits, get ids above everything delivered so far.
"""

NOTIFY_CHANNEL = "hub_events"
# Held (per transaction) by whoever moves outbox rows into the log, so two movers never
# interleave their ids (the relay is one, by its leader lock; tests may move rows themselves).
MOVE_LOCK_KEY = 7265483
# The name of the relay's row in hub_relay_cursor: how far the log has been written.
RELAY_CURSOR = "relay"
# Characters of an e-mail's text in its email.created payload (payloads.email_snippet).
SNIPPET_LENGTH = 160

_TS = "to_char(({v}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00'"


def ts(v: str) -> str:
    return f"CASE WHEN {v} IS NULL THEN NULL ELSE {_TS.format(v=v)} END"


# Built from constants of this module, never from input.
INSTALL = f"""
CREATE OR REPLACE FUNCTION hub_event_emit(
    p_company integer, p_audience text, p_user integer, p_topic text, p_type text, p_payload jsonb
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hub_event_outbox (company_id, audience, user_id, topic, type, payload, created_at)
    VALUES (p_company, p_audience, p_user, p_topic, p_type, p_payload, clock_timestamp());
    -- One payload for every event: PostgreSQL folds identical notifications of a transaction
    -- into one, and the relay only needs to know that something committed.
    PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
END $$;

-- Move up to p_limit committed outbox rows into hub_event, oldest first, and record the
-- newest log id in hub_relay_cursor, all in the caller's transaction (one statement under
-- autocommit). The lock is taken before the rows are read: a second mover waits, then reads
-- (a new snapshot per statement) only what the first left, and its ids come after the first's.
CREATE OR REPLACE FUNCTION hub_event_outbox_move(p_limit integer)
RETURNS TABLE (id bigint, company_id integer, audience text, user_id integer, topic text,
               type text, payload jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock({MOVE_LOCK_KEY});
    RETURN QUERY
    WITH moved AS (
        DELETE FROM hub_event_outbox o
        WHERE o.id IN (SELECT q.id FROM hub_event_outbox q ORDER BY q.id LIMIT p_limit)
        RETURNING o.id AS outbox_id, o.company_id, o.audience, o.user_id, o.topic, o.type,
                  o.payload, o.created_at
    ), logged AS (
        INSERT INTO hub_event AS e (company_id, audience, user_id, topic, type, payload, created_at)
        SELECT m.company_id, m.audience, m.user_id, m.topic, m.type, m.payload, m.created_at
        FROM moved m ORDER BY m.outbox_id
        RETURNING e.id, e.company_id, e.audience::text, e.user_id, e.topic::text, e.type::text,
                  e.payload
    ), settled AS (
        INSERT INTO hub_relay_cursor AS c (name, last_event_id, updated_at)
        SELECT '{RELAY_CURSOR}', max(l.id), now() FROM logged l HAVING count(*) > 0
        ON CONFLICT (name) DO UPDATE
        SET last_event_id = greatest(c.last_event_id, EXCLUDED.last_event_id), updated_at = now()
    )
    SELECT l.id, l.company_id, l.audience, l.user_id, l.topic, l.type, l.payload
    FROM logged l ORDER BY l.id;
END $$;

CREATE OR REPLACE FUNCTION hub_notification_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE payload jsonb; note notifications_notification;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.is_read IS NOT DISTINCT FROM OLD.is_read THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN note := OLD; ELSE note := NEW; END IF;
    payload := jsonb_build_object(
        'id', note.id::text, 'title', note.title, 'message', note.message, 'type', note.type,
        'is_read', note.is_read, 'related_object_type', note.related_object_type,
        'related_object_id', note.related_object_id::text,
        'created_at', {ts("note.created_at")});
    PERFORM hub_event_emit(NULL, 'user', note.user_id, 'notifications',
        CASE WHEN TG_OP = 'INSERT' THEN 'notification.created'
             WHEN TG_OP = 'DELETE' THEN 'notification.deleted'
             WHEN NEW.is_read THEN 'notification.read' ELSE 'notification.unread' END,
        payload);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_email_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE account record;
BEGIN
    SELECT company_id, user_id INTO account FROM emails_emailaccount WHERE id = NEW.email_account_id;
    PERFORM hub_event_emit(account.company_id, 'user', account.user_id, 'emails', 'email.created',
        jsonb_build_object(
            'id', NEW.id, 'email_account_id', NEW.email_account_id, 'thread_id', NEW.thread_id,
            'subject', NEW.subject, 'from_email', NEW.from_email, 'from_name', NEW.from_name,
            'direction', NEW.direction, 'sent_at', {ts("NEW.sent_at")},
            'snippet', left(btrim(regexp_replace(coalesce(NEW.body_text, ''), '\\s+', ' ', 'g')),
                            {SNIPPET_LENGTH})));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_call_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NULL;
    END IF;
    PERFORM hub_event_emit(NEW.company_id, 'company', NEW.user_id, 'calls',
        CASE WHEN TG_OP = 'INSERT' THEN 'call.created' ELSE 'call.updated' END,
        jsonb_build_object(
            'id', NEW.id, 'twilio_call_sid', NEW.twilio_call_sid, 'status', NEW.status,
            'direction', NEW.direction, 'from_number', NEW.from_number, 'to_number', NEW.to_number,
            'user_id', NEW.user_id, 'phone_number_id', NEW.phone_number_id, 'lead_id', NEW.lead_id,
            'deal_id', NEW.deal_id, 'customer_id', NEW.customer_id, 'duration', NEW.duration,
            'start_time', {ts("NEW.start_time")}, 'end_time', {ts("NEW.end_time")},
            'created_at', {ts("NEW.created_at")}));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_deal_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE payload jsonb; changed text[] := ARRAY[]::text[]; deal crm_deal;
BEGIN
    IF TG_OP = 'DELETE' THEN deal := OLD; ELSE deal := NEW; END IF;
    payload := jsonb_build_object(
        'id', deal.id, 'title', deal.title, 'pipeline_id', deal.pipeline_id,
        'stage_id', deal.stage_id, 'status', deal.status, 'assigned_to_id', deal.assigned_to_id,
        'value', to_char(deal.value, 'FM9999999999990.00'), 'currency', deal.currency,
        'probability', deal.probability);
    IF TG_OP = 'UPDATE' THEN
        IF NEW.stage_id IS DISTINCT FROM OLD.stage_id THEN changed := changed || 'stage_id'::text; END IF;
        IF NEW.status IS DISTINCT FROM OLD.status THEN changed := changed || 'status'::text; END IF;
        IF NEW.assigned_to_id IS DISTINCT FROM OLD.assigned_to_id THEN
            changed := changed || 'assigned_to_id'::text;
        END IF;
        IF NEW.title IS DISTINCT FROM OLD.title THEN changed := changed || 'title'::text; END IF;
        IF NEW.value IS DISTINCT FROM OLD.value THEN changed := changed || 'value'::text; END IF;
        IF NEW.currency IS DISTINCT FROM OLD.currency THEN changed := changed || 'currency'::text; END IF;
        IF cardinality(changed) = 0 THEN RETURN NULL; END IF;
        payload := payload || jsonb_build_object('changed', to_jsonb(changed));
    END IF;
    PERFORM hub_event_emit(deal.company_id, 'deal_managers', deal.assigned_to_id, 'deals',
        CASE TG_OP WHEN 'INSERT' THEN 'deal.created' WHEN 'DELETE' THEN 'deal.deleted'
             ELSE 'deal.updated' END, payload);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_lead_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE payload jsonb; changed text[] := ARRAY[]::text[];
BEGIN
    payload := jsonb_build_object(
        'id', NEW.id, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'email', NEW.email,
        'status', NEW.status, 'assigned_to_id', NEW.assigned_to_id);
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status IS DISTINCT FROM OLD.status THEN changed := changed || 'status'::text; END IF;
        IF NEW.assigned_to_id IS DISTINCT FROM OLD.assigned_to_id THEN
            changed := changed || 'assigned_to_id'::text;
        END IF;
        IF cardinality(changed) = 0 THEN RETURN NULL; END IF;
        payload := payload || jsonb_build_object('changed', to_jsonb(changed));
    END IF;
    PERFORM hub_event_emit(NEW.company_id, 'deal_managers', NEW.assigned_to_id, 'leads',
        CASE WHEN TG_OP = 'INSERT' THEN 'lead.created' ELSE 'lead.updated' END, payload);
    RETURN NULL;
END $$;

CREATE TRIGGER hub_event_notification
    AFTER INSERT OR DELETE OR UPDATE OF is_read ON notifications_notification
    FOR EACH ROW EXECUTE FUNCTION hub_notification_event();
CREATE TRIGGER hub_event_email AFTER INSERT ON emails_email
    FOR EACH ROW EXECUTE FUNCTION hub_email_event();
CREATE TRIGGER hub_event_call AFTER INSERT OR UPDATE OF status ON calls_call
    FOR EACH ROW EXECUTE FUNCTION hub_call_event();
-- Any UPDATE, not UPDATE OF its columns: the function returns early unless a watched field
-- changed, and the CRM's migrations stay free to alter the type of title or value (PostgreSQL
-- refuses to alter a column named in a trigger's definition).
CREATE TRIGGER hub_event_deal AFTER INSERT OR UPDATE OR DELETE ON crm_deal
    FOR EACH ROW EXECUTE FUNCTION hub_deal_event();
CREATE TRIGGER hub_event_lead AFTER INSERT OR UPDATE OF status, assigned_to_id ON crm_lead
    FOR EACH ROW EXECUTE FUNCTION hub_lead_event();
"""

UNINSTALL = """
DROP TRIGGER IF EXISTS hub_event_notification ON notifications_notification;
DROP TRIGGER IF EXISTS hub_event_email ON emails_email;
DROP TRIGGER IF EXISTS hub_event_call ON calls_call;
DROP TRIGGER IF EXISTS hub_event_deal ON crm_deal;
DROP TRIGGER IF EXISTS hub_event_lead ON crm_lead;
DROP FUNCTION IF EXISTS hub_notification_event();
DROP FUNCTION IF EXISTS hub_email_event();
DROP FUNCTION IF EXISTS hub_call_event();
DROP FUNCTION IF EXISTS hub_deal_event();
DROP FUNCTION IF EXISTS hub_lead_event();
DROP FUNCTION IF EXISTS hub_event_emit(integer, text, integer, text, text, jsonb);
DROP FUNCTION IF EXISTS hub_event_outbox_move(integer);
"""
