//! The Hubster side: the identity token, establish, the hub's established
//! conversations, both inbound paths and get activities.

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::server::{CustomerSender, Leid, S, Shared};
use super::world::{known_integration, now_ms};
use crate::format::hubster::IntegrationType;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

impl Shared {
    /// The engine's auth: a live token, unless the hub refuses the
    /// credential whatever the token (`Shared::set_hub_refusal`).
    pub(super) fn hub_auth(&self, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
        let unauthorized = |why| (StatusCode::UNAUTHORIZED, why);
        let h = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or(unauthorized("no Authorization header"))?;
        let t = h
            .strip_prefix("Bearer ")
            .ok_or(unauthorized("not a bearer token"))?;
        match self.tokens.lock().expect("tokens lock").get(t) {
            Some(exp) if *exp > Instant::now() => {}
            Some(_) => return Err(unauthorized("token expired")),
            None => return Err(unauthorized("unknown token")),
        }
        match self.lp_answers().hub_refusal {
            Some(403) => Err((StatusCode::FORBIDDEN, "this client may not act on the hub")),
            Some(_) => Err(unauthorized("the client's credential is revoked")),
            None => Ok(()),
        }
    }

    /// The Direct inbound path's auth: the engine's, or only the hub's
    /// portal access token (`SimConfig::inbound_token`).
    pub(super) fn inbound_auth(
        &self,
        headers: &HeaderMap,
    ) -> Result<(), (StatusCode, &'static str)> {
        if self.config.inbound_token == super::server::InboundToken::Engine {
            return self.hub_auth(headers);
        }
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        if token != Some(self.creds.hubster_portal_token.as_str()) {
            return Err((
                StatusCode::UNAUTHORIZED,
                "the inbound path takes the hub's portal access token",
            ));
        }
        Ok(())
    }
}

pub(super) async fn token(State(s): S, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ctx = match s.admit("hubster.token", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id") == Some(&s.creds.hubster_client_id)
        && form.get("client_secret") == Some(&s.creds.hubster_client_secret);
    // A revoked client (`set_hub_refusal(Some(400))`) is no client.
    if !ok || s.lp_answers().hub_refusal == Some(400) {
        return s.error(ctx, StatusCode::BAD_REQUEST, "invalid_client");
    }
    let token = format!("sim-{:016x}", s.rng.lock().expect("rng lock").next_u64());
    s.tokens
        .lock()
        .expect("tokens lock")
        .insert(token.clone(), Instant::now() + s.config.token_ttl);
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"access_token": token, "expires_in": s.config.token_ttl.as_secs(),
        "token_type": "Bearer", "scope": "hubster.engine.api"}),
    )
}

pub(super) fn hub_error(code: &str, description: &str) -> Value {
    json!({"status": 400, "errors": [{"code": 301, "description": format!("{description} (code: {code})")}]})
}

pub(super) async fn establish(
    State(s): S,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = match s.admit("hubster.establish", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err((code, why)) = s.hub_auth(&headers) {
        return s.error(ctx, code, why);
    }
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(integration), Some(binding)) = (b["integrationId"].as_str(), b["binding"].as_str())
    else {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005003", "integrationId and binding are required"),
        );
    };
    // Establishing is the customer side's act.
    if s.config.strict
        && !matches!(
            known_integration(integration),
            Some((IntegrationType::Customer, _))
        )
    {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error(
                "ENG005003",
                &format!("establish takes a customer integration; {integration} is not one"),
            ),
        );
    }
    let (id, is_new) = s
        .hub
        .lock()
        .expect("hub lock")
        .establish(binding, integration);
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"tenantId": "sim-tenant", "hubId": "sim-hub", "integrationId": integration,
        "conversationId": id, "tokenId": format!("tok-{binding}"),
        "openedDateTime": httpdate::fmt_http_date(SystemTime::now()), "isNew": is_new}),
    )
}

/// The hub's established conversations, oldest first.
pub(super) async fn established(
    State(s): S,
    Path(hub): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = match s.admit("hubster.established", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err((code, why)) = s.hub_auth(&headers) {
        return s.error(ctx, code, why);
    }
    if hub != "sim-hub" {
        return s.error(ctx, StatusCode::NOT_FOUND, "no such hub");
    }
    let mut list: Vec<(i64, Value)> = s
        .hub
        .lock()
        .expect("hub lock")
        .conversations
        .iter()
        .map(|(id, c)| {
            let opened = std::time::UNIX_EPOCH + Duration::from_millis(c.opened_ms as u64);
            (
                c.opened_ms,
                json!({"conversationId": id, "hubId": "sim-hub",
                "integrationId": c.integration_id, "binding": c.binding,
                "openedDateTime": httpdate::fmt_http_date(opened)}),
            )
        })
        .collect();
    list.sort_by_key(|(t, _)| *t);
    s.answer(
        ctx,
        StatusCode::OK,
        Value::Array(list.into_iter().map(|(_, v)| v).collect()),
    )
}

pub(super) async fn inbound(
    State(s): S,
    Path((side, conversation)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path: &'static str = match side.as_str() {
        "customer" => "customer",
        "business" => "business",
        _ => return (StatusCode::NOT_FOUND, "no such path").into_response(),
    };
    let endpoint = if path == "customer" {
        "hubster.inbound_customer"
    } else {
        "hubster.inbound_business"
    };
    let ctx = match s.admit(endpoint, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err((code, why)) = s.inbound_auth(&headers) {
        return s.error(ctx, code, why);
    }
    let Ok(mut activity) = serde_json::from_slice::<Value>(&body) else {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005001", "body is not JSON"),
        );
    };
    let kind = activity["type"].as_str();
    if !matches!(kind, Some("message" | "event")) || activity.get(kind.unwrap_or("-")).is_none() {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005002", "type must be message or event, with its body"),
        );
    }
    if s.config.strict {
        if let Err((code, why)) = documented(&activity, path, &s.config) {
            return s.answer(ctx, StatusCode::BAD_REQUEST, hub_error(code, &why));
        }
        if path == "customer"
            && let Some(sender) = activity.get_mut("sender").and_then(Value::as_object_mut)
        {
            // The engine knows the customer's path's sender.
            sender.remove("integrationId");
        }
    }
    if path == "business"
        && activity["sender"]["integrationId"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005003", "sender.integrationId is required"),
        );
    }
    // A hub with neither an agent nor a bot integration has nobody to
    // route a customer's message to (the status is not documented).
    if path == "customer" && s.lp_answers().hub_unrouted {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005501", "no agent or bot integration to route to"),
        );
    }
    let lag_ms = s.config.activities_lag.as_millis() as i64;
    // A post that completes late: the hub stores it once the client has
    // given up waiting (a task of its own, so the client's leaving does not
    // cancel it).
    if s.chance(s.config.fault_timeout_late) {
        s.fault("timeout_late");
        let (s2, conversation2) = (s.clone(), conversation.clone());
        let late = tokio::spawn(async move {
            tokio::time::sleep(s2.config.timeout_delay).await;
            let interaction_id = uuid_v4(&s2);
            s2.hub.lock().expect("hub lock").deliver_visible_after(
                &conversation2,
                activity,
                path,
                interaction_id,
                lag_ms,
            )
        });
        let stored = late.await.ok().flatten();
        return s.answer(
            ctx,
            StatusCode::OK,
            json!({"status": 200,
            "eventId": stored.as_ref().and_then(|a| a["eventId"].as_i64())}),
        );
    }
    // A reset after the hub stored the activity loses only the answer: half
    // the time the activity is stored anyway, as on a real network.
    let store = !ctx.reset || s.chance(0.5);
    let stored = if store {
        let mut hub = s.hub.lock().expect("hub lock");
        if !hub.conversations.contains_key(&conversation) {
            drop(hub);
            return s.answer(
                ctx,
                StatusCode::NOT_FOUND,
                hub_error("ENG006500", "conversation does not exist"),
            );
        }
        let interaction_id = uuid_v4(&s);
        let stored = hub.deliver_visible_after(
            &conversation,
            activity.clone(),
            path,
            interaction_id,
            lag_ms,
        );
        if path == "customer" && activity["type"] == "message" && s.lp_answers().hub_bot {
            hub.bot_answers(&conversation, &activity, uuid_v4(&s));
        }
        stored
    } else {
        None
    };
    let answered = stored.as_ref().unwrap_or(&activity);
    s.answer(ctx, StatusCode::OK, json!({"status": 200,
        "eventId": stored.as_ref().and_then(|a| a["eventId"].as_i64()).unwrap_or_else(now_ms),
        "externalId": activity["externalId"], "hubId": "sim-hub", "conversationId": conversation,
        "integrationId": answered["sender"]["integrationId"], "interactionId": answered["interactionId"]}))
}

/// A random UUID from the simulator's generator (the engine's
/// interactionIds).
fn uuid_v4(s: &Shared) -> String {
    let mut rng = s.rng.lock().expect("rng lock");
    let bytes = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Whether an inbound body holds only what Hubster documents: `externalId`,
/// `type`, `sender.integrationId` and `message` or `event` (`ENG005002`
/// "does not support provided property" names anything else), with
/// lower-case `urlType`s.
fn documented(
    activity: &Value,
    path: &str,
    config: &super::server::SimConfig,
) -> Result<(), (&'static str, String)> {
    let customer_sender = config.customer_sender;
    let unsupported = |k: &str| {
        (
            "ENG005002",
            format!("does not support provided property '{k}'"),
        )
    };
    let Some(a) = activity.as_object() else {
        return Ok(());
    };
    for k in a.keys() {
        if !matches!(
            k.as_str(),
            "externalId" | "type" | "sender" | "message" | "event"
        ) {
            return Err(unsupported(k));
        }
    }
    if let Some(sender) = a.get("sender").and_then(Value::as_object) {
        for k in sender.keys() {
            if k != "integrationId" {
                return Err(unsupported(&format!("sender.{k}")));
            }
            if path == "customer" && customer_sender == CustomerSender::Reject {
                return Err(unsupported("sender.integrationId"));
            }
        }
    }
    // Events: typing and seen are their type alone; a payload event has a
    // payloadType and a payload.
    if let Some(ev) = a.get("event").and_then(Value::as_object) {
        let payload = ev.get("type").and_then(Value::as_str) == Some("payload");
        // "Apart from the payload event type, the other types are
        // currently not supported."
        if !payload {
            return Err((
                "ENG005004",
                format!(
                    "event type {} is not supported (only payload)",
                    ev.get("type").unwrap_or(&Value::Null)
                ),
            ));
        }
        for k in ev.keys() {
            let ok = k == "type" || (payload && (k == "payloadType" || k == "payload"));
            if !ok {
                return Err(unsupported(&format!("event.{k}")));
            }
        }
    }
    let message = &a.get("message").cloned().unwrap_or(Value::Null);
    if config.refuse_customer_cards
        && path == "customer"
        && matches!(message["type"].as_str(), Some("card" | "carousel" | "list"))
    {
        return Err((
            "ENG005005",
            format!(
                "a customer's integration does not send a {}",
                message["type"].as_str().unwrap_or_default()
            ),
        ));
    }
    let items = message["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for t in std::iter::once(message)
        .chain(items)
        .filter_map(|m| m["urlType"].as_str())
    {
        if t != t.to_ascii_lowercase() {
            return Err((
                "ENG005003",
                format!("urlType '{t}' is not a media type (they are lower case)"),
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
pub(super) struct ActivitiesQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    leid: Option<i64>,
}

pub(super) async fn get_activities(
    State(s): S,
    Path(conversation): Path<String>,
    Query(q): Query<ActivitiesQuery>,
    headers: HeaderMap,
) -> Response {
    let ctx = match s.admit("hubster.get_activities", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err((code, why)) = s.hub_auth(&headers) {
        return s.error(ctx, code, why);
    }
    let Some(kind) = q
        .kind
        .filter(|k| matches!(k.as_str(), "Customer" | "Agent" | "Bot"))
    else {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "type must be Customer, Agent or Bot",
        );
    };
    let leid = q.leid.unwrap_or(0);
    let now = now_ms();
    let hub = s.hub.lock().expect("hub lock");
    let Some(conv) = hub.conversations.get(&conversation) else {
        drop(hub);
        return s.error(ctx, StatusCode::NOT_FOUND, "conversation does not exist");
    };
    let mut out: Vec<Value> = conv
        .activities
        .iter()
        .filter(|d| d.visible_ms <= now)
        .map(|d| &d.activity)
        .filter(|a| {
            a["sender"]["integrationType"] == kind.as_str()
                || a["recipient"]["integrationType"] == kind.as_str()
        })
        .filter(|a| {
            let e = a["eventId"].as_i64().unwrap_or(0);
            match s.config.leid {
                Leid::Inclusive => e >= leid,
                Leid::Exclusive => e > leid,
            }
        })
        .cloned()
        .collect();
    drop(hub);
    out.sort_by_key(|a| a["eventId"].as_i64());
    if let Some(cap) = s.config.activities_cap {
        out.truncate(cap);
    }
    s.answer(ctx, StatusCode::OK, Value::Array(out))
}
