//! The Hubster side: the identity token, establish, the hub's established
//! conversations, both inbound paths and get activities.

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::server::{Leid, S, Shared};
use super::world::now_ms;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

impl Shared {
    pub(super) fn hub_auth(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let h = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        let t = h.strip_prefix("Bearer ").ok_or("not a bearer token")?;
        match self.tokens.lock().expect("tokens lock").get(t) {
            Some(exp) if *exp > Instant::now() => Ok(()),
            Some(_) => Err("token expired"),
            None => Err("unknown token"),
        }
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
    if !ok {
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
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
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
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
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
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
    }
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
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
        hub.deliver(&conversation, activity.clone(), path)
    } else {
        None
    };
    s.answer(ctx, StatusCode::OK, json!({"status": 200, "eventId": stored.unwrap_or_else(now_ms),
        "externalId": activity["externalId"], "hubId": "sim-hub", "conversationId": conversation,
        "integrationId": activity["sender"]["integrationId"], "interactionId": activity["interactionId"]}))
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
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
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
    let hub = s.hub.lock().expect("hub lock");
    let Some(conv) = hub.conversations.get(&conversation) else {
        drop(hub);
        return s.error(ctx, StatusCode::NOT_FOUND, "conversation does not exist");
    };
    let mut out: Vec<Value> = conv
        .activities
        .iter()
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
    s.answer(ctx, StatusCode::OK, Value::Array(out))
}
