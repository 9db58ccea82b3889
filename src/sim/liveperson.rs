//! The LivePerson side: CSDS, content search, conversations/search and
//! conversation/search, with their auth (a bearer or an OAuth 1.0a
//! signature), `source` and account checks.

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::faults::Ctx;
use super::server::{S, Shared};
use crate::platform::oauth1;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

impl Shared {
    /// LivePerson auth: the bearer token, or a valid OAuth 1.0a signature.
    pub(super) fn lp_auth(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &Uri,
    ) -> Result<(), &'static str> {
        let h = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        if let Some(t) = h.strip_prefix("Bearer ") {
            return if t == self.creds.bearer {
                Ok(())
            } else {
                Err("unknown bearer token")
            };
        }
        let url =
            url::Url::parse(&format!("http://{}{}", self.addr, uri)).map_err(|_| "bad url")?;
        let keys = oauth1::Keys {
            consumer_key: self.creds.consumer_key.clone(),
            consumer_secret: self.creds.consumer_secret.clone(),
            token: self.creds.token.clone(),
            token_secret: self.creds.token_secret.clone(),
        };
        oauth1::verify(h, method.as_str(), &url, &keys)
    }

    /// Everything a LivePerson endpoint checks before its own work:
    /// faults and quota, auth, `source`, the account.
    pub(super) async fn lp_admit(
        &self,
        endpoint: &'static str,
        headers: &HeaderMap,
        method: &Method,
        uri: &Uri,
        account: &str,
        source: Option<&str>,
    ) -> Result<Ctx, Response> {
        let ctx = self.admit(endpoint, headers).await?;
        if let Err(why) = self.lp_auth(headers, method, uri) {
            return Err(self.error(ctx, StatusCode::UNAUTHORIZED, why));
        }
        self.check_source(ctx, source)?;
        if account != self.creds.account {
            return Err(self.error(ctx, StatusCode::FORBIDDEN, "unknown account"));
        }
        Ok(ctx)
    }

    pub(super) fn check_source(&self, ctx: Ctx, source: Option<&str>) -> Result<(), Response> {
        match source {
            None | Some("") => Err(self.error(ctx, StatusCode::BAD_REQUEST, "source is required")),
            Some(s) if s.chars().count() > 20 => Err(self.error(
                ctx,
                StatusCode::BAD_REQUEST,
                "source is longer than 20 characters",
            )),
            Some(_) => Ok(()),
        }
    }
}

pub(super) async fn csds(
    State(s): S,
    Path((account, service)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let ctx = match s.admit("csds", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if account != s.creds.account || service != "msgHist" {
        return s.error(ctx, StatusCode::NOT_FOUND, "unknown account or service");
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"service": "msgHist", "account": account, "baseURI": s.addr.to_string()}),
    )
}

#[derive(Deserialize)]
pub(super) struct ContentQuery {
    #[serde(rename = "conversationId")]
    conversation_id: Option<String>,
    source: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

pub(super) async fn content_search(
    State(s): S,
    Path(account): Path<String>,
    Query(q): Query<ContentQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = match s
        .lp_admit(
            "lp.content_search",
            &headers,
            &method,
            &uri,
            &account,
            q.source.as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = q.conversation_id else {
        return s.error(ctx, StatusCode::BAD_REQUEST, "conversationId is required");
    };
    let records = match s.lp.by_id.get(&id) {
        Some(&i) => s.lp.records(&s.lp.conversations[i]),
        None => Vec::new(),
    };
    if !s.config.content_paging {
        return s.answer(ctx, StatusCode::OK, json!({"messageEventRecords": records}));
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "limit must be 1 to 100");
    }
    let offset = q.offset.unwrap_or(0).min(records.len());
    let end = (offset + limit).min(records.len());
    let mut meta = json!({"count": records.len()});
    if end < records.len() {
        meta["next"] = json!({"rel": "next", "href": format!(
            "http://{}/messaging_history/api/account/{account}/conversations/conversation/content/search?conversationId={id}&source={}&offset={end}&limit={limit}",
            s.addr, q.source.unwrap_or_default())});
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": meta, "messageEventRecords": records[offset..end]}),
    )
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    source: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
pub(super) struct Range {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct SearchBody {
    start: Option<Range>,
    status: Option<Vec<String>>,
    #[serde(rename = "latestUpdateTime")]
    latest_update_time: Option<Range>,
}

/// Three months, as LivePerson counts a window (93 days at most).
const MAX_WINDOW_MS: i64 = 93 * 24 * 3600 * 1000;
const TEN_MINUTES_MS: i64 = 600_000;

pub(super) async fn conversations_search(
    State(s): S,
    Path(account): Path<String>,
    Query(q): Query<SearchQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = match s
        .lp_admit(
            "lp.conversations_search",
            &headers,
            &method,
            &uri,
            &account,
            q.source.as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "limit must be 1 to 100");
    }
    let Ok(b) = serde_json::from_slice::<SearchBody>(&body) else {
        return s.error(ctx, StatusCode::BAD_REQUEST, "body is not a search request");
    };
    let Some(Range {
        from: Some(from),
        to: Some(to),
    }) = b.start
    else {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "start.from and start.to are required",
        );
    };
    let strict_months = s.config.strict
        && to
            > crate::platform::liveperson::three_months_after(
                from - from.rem_euclid(TEN_MINUTES_MS),
            );
    if to < from || to - from > MAX_WINDOW_MS || strict_months {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "start window must be at most 3 months",
        );
    }
    // Bounds are rounded to 10 minutes; latestUpdateTime down to 10 minutes.
    let (from, to) = (
        from - from.rem_euclid(TEN_MINUTES_MS),
        to + (TEN_MINUTES_MS - to.rem_euclid(TEN_MINUTES_MS)) % TEN_MINUTES_MS,
    );
    let lut = b
        .latest_update_time
        .and_then(|r| r.from)
        .map(|f| f - f.rem_euclid(TEN_MINUTES_MS));
    let statuses = b
        .status
        .unwrap_or_else(|| vec!["OPEN".into(), "CLOSE".into()]);
    let hits: Vec<Value> =
        s.lp.conversations
            .iter()
            .filter(|c| c.start_ms >= from && c.start_ms <= to)
            .filter(|c| {
                statuses
                    .iter()
                    .any(|st| st == if c.open { "OPEN" } else { "CLOSE" })
            })
            .filter(|c| lut.is_none_or(|l| s.lp.latest_update_ms(c) >= l))
            .map(|c| json!({"info": s.lp.info(c, c.partial), "messageRecords": []}))
            .collect();
    if s.config.strict && hits.is_empty() {
        // As documented: nothing found is 204 No Content.
        return s.answer_empty(ctx, StatusCode::NO_CONTENT);
    }
    let offset = q.offset.unwrap_or(0).min(hits.len());
    let end = (offset + limit).min(hits.len());
    let mut meta = json!({"count": hits.len(), "self": {"rel": "self", "href": uri.to_string()},
        "shardsStatusResult": {"partialResult": false}});
    if end < hits.len() {
        let path = uri
            .to_string()
            .replace(&format!("offset={offset}"), &format!("offset={end}"));
        meta["next"] = json!({"rel": "next", "href": format!("http://{}{path}", s.addr)});
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": meta, "conversationHistoryRecords": hits[offset..end]}),
    )
}

pub(super) async fn conversation_search(
    State(s): S,
    Path(account): Path<String>,
    Query(q): Query<SearchQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = match s
        .lp_admit(
            "lp.conversation_search",
            &headers,
            &method,
            &uri,
            &account,
            q.source.as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    #[derive(Deserialize)]
    struct Ids {
        #[serde(rename = "conversationIds")]
        conversation_ids: Vec<String>,
    }
    let Ok(ids) = serde_json::from_slice::<Ids>(&body) else {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "body must be {\"conversationIds\": [...]}",
        );
    };
    if ids.conversation_ids.len() > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "at most 100 conversationIds");
    }
    let hits: Vec<Value> = ids
        .conversation_ids
        .iter()
        .filter_map(|id| s.lp.by_id.get(id))
        .map(|&i| json!({"info": s.lp.info(&s.lp.conversations[i], false), "messageRecords": []}))
        .collect();
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": {"count": hits.len()}, "conversationHistoryRecords": hits}),
    )
}
