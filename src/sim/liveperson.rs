//! The LivePerson side: CSDS, content search, conversations/search and
//! conversation/search, with their auth (a bearer or an OAuth 1.0a
//! signature), `source` and account checks.

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::faults::Ctx;
use super::server::{BrandContentSearch, S, Shared};
use crate::platform::oauth1;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

/// Who is calling LivePerson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    /// A brand: its bearer or its app key (OAuth 1.0a).
    Brand,
    /// A consumer, with its JWT.
    Consumer,
}

/// Which endpoints a caller may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    /// Consumer Messaging History (content search): documented for a
    /// consumer's JWT.
    ConsumerHistory,
    /// Messaging Interactions (the searches): a brand's credentials.
    Interactions,
}

impl Shared {
    /// LivePerson auth: a brand's bearer, a consumer's JWT, or a valid
    /// OAuth 1.0a signature of the brand's app key.
    pub(super) fn lp_auth(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &Uri,
    ) -> Result<Caller, &'static str> {
        let h = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        if let Some(t) = h.strip_prefix("Bearer ") {
            return if t == self.creds.bearer {
                Ok(Caller::Brand)
            } else if t == self.creds.consumer_jwt {
                Ok(Caller::Consumer)
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
        oauth1::verify(h, method.as_str(), &url, &keys).map(|()| Caller::Brand)
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
        let api = if endpoint == "lp.content_search" {
            Api::ConsumerHistory
        } else {
            Api::Interactions
        };
        let caller = match self.lp_auth(headers, method, uri) {
            Ok(c) => c,
            Err(why) => return Err(self.error(ctx, StatusCode::UNAUTHORIZED, why)),
        };
        match self.lp_answers().liveperson_refusal {
            Some(403) => {
                return Err(self.error(ctx, StatusCode::FORBIDDEN, "this key may not read"));
            }
            Some(_) => {
                return Err(self.error(ctx, StatusCode::UNAUTHORIZED, "the app key is revoked"));
            }
            None => {}
        }
        // What a brand's credential gets from content search: 401 when
        // strict; 400 or an empty 200 whenever chosen.
        if (api, caller) == (Api::ConsumerHistory, Caller::Brand) {
            match self.lp_answers().brand_content_search {
                BrandContentSearch::Unauthorized if self.config.liveperson_strict => {
                    return Err(self.error(
                        ctx,
                        StatusCode::UNAUTHORIZED,
                        "content search requires a consumer's JWT",
                    ));
                }
                BrandContentSearch::BadRequest => {
                    return Err(self.error(ctx, StatusCode::BAD_REQUEST, "bad request"));
                }
                // The handler answers nothing.
                _ => {}
            }
        }
        if self.config.liveperson_strict && (api, caller) == (Api::Interactions, Caller::Consumer) {
            return Err(self.error(
                ctx,
                StatusCode::UNAUTHORIZED,
                "Messaging Interactions requires a brand's credentials",
            ));
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
    if s.lp_answers().brand_content_search == BrandContentSearch::Empty
        && s.lp_auth(&headers, &method, &uri) == Ok(Caller::Brand)
    {
        // A brand's credential, answered as if there were nothing.
        return s.answer(ctx, StatusCode::OK, json!({"messageEventRecords": []}));
    }
    let records = match s.lp.by_id.get(&id) {
        Some(&i) => s.lp.records(&s.lp.conversations[i]),
        None => Vec::new(),
    };
    if !s.config.content_paging && !s.config.liveperson_strict {
        return s.answer(ctx, StatusCode::OK, json!({"messageEventRecords": records}));
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "limit must be 1 to 100");
    }
    let offset = q.offset.unwrap_or(0).min(records.len());
    let end = (offset + limit).min(records.len());
    if s.config.liveperson_strict {
        // Pages as an early version of the page documented, and says
        // nothing of it.
        return s.answer(
            ctx,
            StatusCode::OK,
            json!({"messageEventRecords": records[offset..end]}),
        );
    }
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
    #[serde(rename = "contentToRetrieve")]
    content_to_retrieve: Option<Vec<String>>,
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
    let strict_months = s.config.liveperson_strict
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
    if b.content_to_retrieve.is_none() {
        s.stats
            .lock()
            .expect("stats lock")
            .searches_without_content_to_retrieve += 1;
    }
    let hits: Vec<&super::world::LpConversation> =
        s.lp.conversations
            .iter()
            .filter(|c| c.start_ms >= from && c.start_ms <= to)
            .filter(|c| {
                statuses
                    .iter()
                    .any(|st| st == if c.open { "OPEN" } else { "CLOSE" })
            })
            .filter(|c| lut.is_none_or(|l| s.lp.latest_update_ms(c) >= l))
            .collect();
    if s.config.liveperson_strict && hits.is_empty() {
        // As documented: nothing found is 204 No Content.
        return s.answer_empty(ctx, StatusCode::NO_CONTENT);
    }
    let offset = q.offset.unwrap_or(0).min(hits.len());
    let end = (offset + limit).min(hits.len());
    let page: Vec<Value> = hits[offset..end]
        .iter()
        .map(|c| {
            s.lp.interactions_entry(
                c,
                c.partial || s.lp_answers().partial_answers,
                b.content_to_retrieve.as_deref(),
            )
        })
        .collect();
    // Strict: links as the documentation's own examples give them, to an
    // internal host and without `source`.
    let link = |off: usize| {
        if s.config.liveperson_strict {
            format!(
                "https://localhost:8082/messaging_history/api/account/{account}/conversations/search?limit={limit}&offset={off}"
            )
        } else {
            let path = uri
                .to_string()
                .replace(&format!("offset={offset}"), &format!("offset={off}"));
            format!("http://{}{path}", s.addr)
        }
    };
    let mut meta = json!({"count": hits.len(), "self": {"rel": "self", "href": link(offset)},
        "shardsStatusResult": {"partialResult": false}});
    if end < hits.len() {
        meta["next"] = json!({"rel": "next", "href": link(end)});
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": meta, "conversationHistoryRecords": page}),
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
        #[serde(rename = "contentToRetrieve")]
        content_to_retrieve: Option<Vec<String>>,
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
        .map(|&i| {
            s.lp.interactions_entry(
                &s.lp.conversations[i],
                s.lp_answers().partial_answers,
                ids.content_to_retrieve.as_deref(),
            )
        })
        .collect();
    if ids.content_to_retrieve.is_none() {
        s.stats
            .lock()
            .expect("stats lock")
            .searches_without_content_to_retrieve += 1;
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": {"count": hits.len()}, "conversationHistoryRecords": hits}),
    )
}
