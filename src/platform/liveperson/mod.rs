//! The LivePerson Messaging History client: CSDS discovery of `msgHist`,
//! conversation content search (paging-aware), conversations/search in
//! windows of at most three months, and conversation/search by id.

mod route;
mod search_page;
mod transcripts;

use search_page::{Entry, Meta, SearchPage};

pub use route::{
    PROBE_EVERY_MS, Route, RouteChoice, RouteMemory, RouteState, TranscriptRoute, Use,
};
pub use transcripts::{Fetched, Shown, TranscriptError};

use super::ClientError;
use super::oauth1;
use super::secret::{Secret, SecretSource};
use crate::http::{HttpConfig, HttpError, Metrics, Upstream};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// `[liveperson]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LivePersonConfig {
    /// The account (site) id.
    pub account: String,
    /// Who is calling: required by LivePerson, at most 20 characters,
    /// shaped ProjectName+AppName+UseCase (e.g. `Acme_convsync_sync`).
    #[serde(deserialize_with = "source_name")]
    pub source: String,
    /// Where the `msgHist` domain is discovered.
    #[serde(default = "default_csds_url")]
    pub csds_url: String,
    /// The msgHist domain (e.g. `va.msghist.liveperson.net`); given, CSDS is skipped.
    #[serde(default)]
    pub domain: Option<String>,
    /// How long a discovered domain is trusted (seconds).
    #[serde(default = "default_csds_cache_secs")]
    pub csds_cache_secs: u64,
    pub auth: LpAuth,
    /// How transcripts are read: `auto` (content search; Messaging
    /// Interactions once content search is refused, as it is documented
    /// for a consumer's JWT only), `content_search`, or `interactions`.
    #[serde(default)]
    pub transcripts: TranscriptRoute,
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_csds_url() -> String {
    "https://api.liveperson.net".into()
}

fn default_csds_cache_secs() -> u64 {
    3600
}

fn source_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    match s.chars().count() {
        0 => Err(serde::de::Error::custom(
            "must not be empty (LivePerson requires a caller id)",
        )),
        n if n > 20 => Err(serde::de::Error::custom(format!(
            "is {n} characters long; LivePerson allows at most 20"
        ))),
        _ => Ok(s),
    }
}

/// `[liveperson.auth]`: a bearer token, or an app key (OAuth 1.0a).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "RawAuth", into = "RawAuth")]
pub enum LpAuth {
    Bearer(SecretSource),
    AppKey {
        consumer_key: SecretSource,
        consumer_secret: SecretSource,
        token: SecretSource,
        token_secret: SecretSource,
    },
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    bearer: Option<SecretSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer_key: Option<SecretSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer_secret: Option<SecretSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<SecretSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_secret: Option<SecretSource>,
}

/// `[liveperson.auth]` that is neither a bearer nor a whole app key.
#[derive(Debug, thiserror::Error)]
#[error(
    "give either `bearer`, or all four of `consumer_key`, `consumer_secret`, `token`, `token_secret`"
)]
pub struct NotOneAuth;

impl TryFrom<RawAuth> for LpAuth {
    type Error = NotOneAuth;
    fn try_from(r: RawAuth) -> Result<Self, NotOneAuth> {
        match r {
            RawAuth {
                bearer: Some(b),
                consumer_key: None,
                consumer_secret: None,
                token: None,
                token_secret: None,
            } => Ok(LpAuth::Bearer(b)),
            RawAuth {
                bearer: None,
                consumer_key: Some(a),
                consumer_secret: Some(b),
                token: Some(c),
                token_secret: Some(d),
            } => Ok(LpAuth::AppKey {
                consumer_key: a,
                consumer_secret: b,
                token: c,
                token_secret: d,
            }),
            _ => Err(NotOneAuth),
        }
    }
}

impl From<LpAuth> for RawAuth {
    fn from(a: LpAuth) -> RawAuth {
        match a {
            LpAuth::Bearer(b) => RawAuth {
                bearer: Some(b),
                ..RawAuth::default()
            },
            LpAuth::AppKey {
                consumer_key,
                consumer_secret,
                token,
                token_secret,
            } => RawAuth {
                consumer_key: Some(consumer_key),
                consumer_secret: Some(consumer_secret),
                token: Some(token),
                token_secret: Some(token_secret),
                ..RawAuth::default()
            },
        }
    }
}

enum Auth {
    Bearer(Secret),
    AppKey(oauth1::Keys),
}

/// One conversation as conversations/search lists it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationInfo {
    pub conversation_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub start_time_l: Option<i64>,
    #[serde(default)]
    pub end_time_l: Option<i64>,
    #[serde(default)]
    pub latest_update_time: Option<i64>,
    #[serde(default)]
    pub is_partial: bool,
}

impl ConversationInfo {
    /// Whether LivePerson lists it as closed (it can gain no records).
    pub fn is_closed(&self) -> bool {
        self.status.as_deref() == Some("CLOSE")
    }
}

/// A conversations/search query (one window).
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub start_from: i64,
    pub start_to: i64,
    /// `OPEN`, `CLOSE`.
    pub status: Vec<String>,
    pub latest_update_from: Option<i64>,
}

/// The widest `start` window LivePerson accepts (three months): convsync
/// asks for at most 90 days at a time.
pub const MAX_WINDOW_MS: i64 = 90 * 24 * 3600 * 1000;
const TEN_MINUTES_MS: i64 = 600_000;
const PAGE: usize = 100;

/// The windows covering `[from, to]`, each at most [`MAX_WINDOW_MS`] wide,
/// with bounds on 10-minute marks (from down, to up), as LivePerson rounds.
pub fn windows(from: i64, to: i64) -> Vec<(i64, i64)> {
    windows_of(from, to, MAX_WINDOW_MS)
}

/// `ms` plus three calendar months (what LivePerson means by "three
/// months"; a 90-day window from February 1st is a day longer).
pub fn three_months_after(ms: i64) -> i64 {
    chrono::DateTime::from_timestamp_millis(ms)
        .and_then(|d| d.checked_add_months(chrono::Months::new(3)))
        .map_or(ms + MAX_WINDOW_MS, |d| d.timestamp_millis())
}

/// As [`windows`], at most `width` wide (clamped to 10 minutes ..=
/// [`MAX_WINDOW_MS`]), and never wider than three calendar months.
pub fn windows_of(from: i64, to: i64, width: i64) -> Vec<(i64, i64)> {
    let width = width.clamp(TEN_MINUTES_MS, MAX_WINDOW_MS);
    let from = from - from.rem_euclid(TEN_MINUTES_MS);
    let to = to + (TEN_MINUTES_MS - to.rem_euclid(TEN_MINUTES_MS)) % TEN_MINUTES_MS;
    let mut out = Vec::new();
    let mut a = from;
    while a < to || out.is_empty() {
        let b = (a + width).min(three_months_after(a)).min(to.max(a));
        out.push((a, b));
        if b >= to {
            break;
        }
        a = b;
    }
    out
}

/// Whether LivePerson is served on loopback (the simulator, or a model
/// of it): CSDS and, when configured, the msgHist domain.
fn on_loopback(cfg: &LivePersonConfig) -> bool {
    let loopback = |u: &str| {
        let with_scheme = if u.contains("://") {
            u.to_owned()
        } else {
            format!("http://{u}")
        };
        url::Url::parse(&with_scheme).is_ok_and(|url| match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        })
    };
    loopback(&cfg.csds_url) && cfg.domain.as_deref().is_none_or(loopback)
}

/// The client.
pub struct LivePersonClient {
    cfg: LivePersonConfig,
    upstream: Upstream,
    auth: Auth,
    domain: tokio::sync::Mutex<Option<(String, Instant)>>,
    route: std::sync::Mutex<RouteState>,
    memory: std::sync::Mutex<Option<Arc<dyn RouteMemory>>>,
    waiting: std::sync::Mutex<transcripts::Waiting>,
    /// One interactions batch at a time.
    batching: tokio::sync::Mutex<()>,
}

impl LivePersonClient {
    pub fn new(cfg: &LivePersonConfig, metrics: Arc<Metrics>) -> Result<Self, ClientError> {
        let auth = match &cfg.auth {
            LpAuth::Bearer(_) if !on_loopback(cfg) => {
                return Err(ClientError::Unusable(format!(
                    "liveperson.auth.bearer: a LivePerson Login Service bearer expires within minutes (the Login Service documents refreshing it every 3 to 5 minutes) and convsync does not refresh it: give the brand's app key instead (liveperson.auth consumer_key, consumer_secret, token, token_secret; app keys do not expire). A bearer is taken only by a LivePerson on loopback (the simulator); this one is {}",
                    cfg.domain.as_deref().unwrap_or(&cfg.csds_url)
                )));
            }
            LpAuth::Bearer(b) => Auth::Bearer(b.load("liveperson.auth.bearer")?),
            LpAuth::AppKey {
                consumer_key,
                consumer_secret,
                token,
                token_secret,
            } => Auth::AppKey(oauth1::Keys {
                consumer_key: consumer_key
                    .load("liveperson.auth.consumer_key")?
                    .expose()
                    .to_owned(),
                consumer_secret: consumer_secret
                    .load("liveperson.auth.consumer_secret")?
                    .expose()
                    .to_owned(),
                token: token.load("liveperson.auth.token")?.expose().to_owned(),
                token_secret: token_secret
                    .load("liveperson.auth.token_secret")?
                    .expose()
                    .to_owned(),
            }),
        };
        let upstream = Upstream::new("liveperson", &cfg.http, metrics)?;
        Ok(LivePersonClient {
            cfg: cfg.clone(),
            upstream,
            auth,
            domain: tokio::sync::Mutex::new(None),
            route: std::sync::Mutex::new(RouteState {
                mode: cfg.transcripts,
                choice: None,
                app_key: matches!(cfg.auth, LpAuth::AppKey { .. }),
            }),
            memory: std::sync::Mutex::new(None),
            waiting: std::sync::Mutex::default(),
            batching: tokio::sync::Mutex::new(()),
        })
    }

    /// The account (site) id.
    pub fn account(&self) -> &str {
        &self.cfg.account
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// `scheme://domain` of msgHist: configured, or discovered through CSDS
    /// (cached). The scheme is the CSDS URL's.
    pub async fn base(&self) -> Result<String, HttpError> {
        let scheme = if self.cfg.csds_url.starts_with("http://") {
            "http"
        } else {
            "https"
        };
        if let Some(d) = &self.cfg.domain {
            return Ok(if d.contains("://") {
                d.trim_end_matches('/').to_owned()
            } else {
                format!("{scheme}://{d}")
            });
        }
        let mut cached = self.domain.lock().await;
        if let Some((d, at)) = cached.as_ref()
            && at.elapsed() < Duration::from_secs(self.cfg.csds_cache_secs)
        {
            return Ok(d.clone());
        }
        #[derive(Deserialize)]
        struct Csds {
            #[serde(rename = "baseURI")]
            base_uri: String,
        }
        let url = format!(
            "{}/api/account/{}/service/msgHist/baseURI.json?version=1.0",
            self.cfg.csds_url.trim_end_matches('/'),
            self.cfg.account
        );
        let csds: Csds = self.upstream.send_json("csds", |c| c.get(&url)).await?;
        let base = format!("{scheme}://{}", csds.base_uri.trim_end_matches('/'));
        *cached = Some((base.clone(), Instant::now()));
        Ok(base)
    }

    fn sign(
        &self,
        rb: reqwest::RequestBuilder,
        method: &str,
        url: &reqwest::Url,
    ) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Bearer(t) => rb.bearer_auth(t.expose()),
            Auth::AppKey(keys) => {
                let nonce = format!("{:032x}", rand::random::<u128>());
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                rb.header(
                    reqwest::header::AUTHORIZATION,
                    oauth1::authorization(method, url, keys, &nonce, ts),
                )
            }
        }
    }

    fn url(
        &self,
        base: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::Url, HttpError> {
        let mut url = reqwest::Url::parse(&format!(
            "{base}/messaging_history/api/account/{}/{path}",
            self.cfg.account
        ))
        .map_err(|e| HttpError::Request {
            upstream: "liveperson".into(),
            endpoint: "url",
            source: Box::new(e),
        })?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        Ok(url)
    }

    /// `href` as a URL to follow: only to the msgHist domain itself (the
    /// documentation's own examples point at an internal host), and always
    /// with `source`.
    fn own_link(&self, base: &str, href: &str) -> Option<reqwest::Url> {
        let mut link = reqwest::Url::parse(href).ok()?;
        let base = reqwest::Url::parse(base).ok()?;
        if link.scheme() != base.scheme()
            || link.host_str() != base.host_str()
            || link.port_or_known_default() != base.port_or_known_default()
        {
            return None;
        }
        if !link.query_pairs().any(|(k, _)| k == "source") {
            link.query_pairs_mut()
                .append_pair("source", &self.cfg.source);
        }
        Some(link)
    }

    /// Whether searches should bring transcripts along now.
    fn searches_bring_transcripts(&self) -> bool {
        self.route.lock().expect("route lock").wants_interactions()
            && self.waiting.lock().expect("waiting lock").has_room()
    }

    /// One conversations/search window, every page. Pages by offset; a
    /// `next` link is followed only to the msgHist domain. Under the
    /// interactions route, the pages bring transcripts, kept for
    /// [`transcript`](Self::transcript).
    pub async fn search(&self, q: &Search) -> Result<Vec<ConversationInfo>, HttpError> {
        let base = self.base().await?;
        let mut body =
            json!({"start": {"from": q.start_from, "to": q.start_to}, "status": q.status});
        if let Some(l) = q.latest_update_from {
            body["latestUpdateTime"] = json!({"from": l});
        }
        let mut out = Vec::new();
        let mut offset = 0usize;
        let query = |offset: usize| {
            self.url(
                &base,
                "conversations/search",
                &[
                    ("offset", offset.to_string()),
                    ("limit", PAGE.to_string()),
                    ("sort", "start:asc".into()),
                    ("v", "2".into()),
                    ("source", self.cfg.source.clone()),
                ],
            )
        };
        let mut url = query(0)?;
        loop {
            // A search for OPEN conversations alone never brings them.
            let heavy = self.searches_bring_transcripts() && q.status.iter().any(|s| s != "OPEN");
            body["contentToRetrieve"] = json!(transcripts::content_to_retrieve(heavy));
            // 204 No Content (documented): an empty window.
            let page: SearchPage = self
                .upstream
                .send_json_or_default("conversations_search", |c| {
                    self.sign(c.post(url.clone()).json(&body), "POST", &url)
                })
                .await?;
            let meta = page
                .metadata
                .as_ref()
                .map(|m| (m.count, m.next.as_ref().and_then(|n| n.href.clone())));
            let entries = page.entries();
            let got = entries.len();
            if heavy {
                self.keep_transcripts(&entries);
            }
            out.extend(entries.iter().filter_map(info_of));
            offset += got;
            let more = match &meta {
                Some((Some(count), _)) => offset < *count,
                _ => got >= PAGE,
            };
            if got == 0 || !more {
                break;
            }
            url = match meta
                .and_then(|(_, href)| href)
                .and_then(|h| self.own_link(&base, &h))
            {
                Some(next)
                    if next
                        .query_pairs()
                        .any(|(k, v)| k == "offset" && v == offset.to_string()) =>
                {
                    next
                }
                _ => query(offset)?,
            };
        }
        Ok(out)
    }

    /// How many conversations started in `[from, to]` (one window), and
    /// the first of them: one conversations/search call of one result.
    pub async fn first_conversation(
        &self,
        from: i64,
        to: i64,
    ) -> Result<(usize, Option<ConversationInfo>), HttpError> {
        let base = self.base().await?;
        let url = self.url(
            &base,
            "conversations/search",
            &[
                ("offset", "0".into()),
                ("limit", "1".into()),
                ("sort", "start:desc".into()),
                ("v", "2".into()),
                ("source", self.cfg.source.clone()),
            ],
        )?;
        let body = json!({"start": {"from": from, "to": to}, "status": ["OPEN", "CLOSE"],
            "contentToRetrieve": transcripts::content_to_retrieve(false)});
        let page: SearchPage = self
            .upstream
            .send_json_or_default("conversations_search", |c| {
                self.sign(c.post(url.clone()).json(&body), "POST", &url)
            })
            .await?;
        let count = page.metadata.as_ref().and_then(|m| m.count);
        let first = page.entries().first().and_then(info_of);
        Ok((count.unwrap_or(usize::from(first.is_some())), first))
    }

    /// conversation/search for up to 100 ids a call (to refetch `isPartial`
    /// ones); under the interactions route, with their transcripts.
    pub async fn by_ids(&self, ids: &[String]) -> Result<Vec<ConversationInfo>, HttpError> {
        let heavy = self.route.lock().expect("route lock").wants_interactions();
        let entries = self.by_ids_with(ids, heavy).await?;
        if heavy {
            self.keep_transcripts(&entries);
        }
        Ok(entries.iter().filter_map(info_of).collect())
    }

    /// Conversations started in `[since, until]` (in 3-month windows) and
    /// updated since `updated_since`; partial answers are fetched again by id.
    pub async fn discover(
        &self,
        since: i64,
        until: i64,
        updated_since: Option<i64>,
    ) -> Result<Vec<ConversationInfo>, HttpError> {
        self.forget_waiting();
        let mut out = Vec::new();
        // Where searches bring transcripts, OPEN conversations are asked
        // for apart and without them: an OPEN transcript is read again just
        // before its turn (it would be stale by then), so bringing it along
        // costs its bytes for nothing. OPEN first: one that closes between
        // the two searches is listed by both, never by neither (the later,
        // closed, listing is the one kept).
        let statuses: &[&[&str]] = if self.searches_bring_transcripts() {
            &[&["OPEN"], &["CLOSE"]]
        } else {
            &[&["OPEN", "CLOSE"]]
        };
        for (from, to) in windows(since, until) {
            for status in statuses {
                let q = Search {
                    start_from: from,
                    start_to: to,
                    status: status.iter().map(|s| (*s).to_owned()).collect(),
                    latest_update_from: updated_since,
                };
                out.extend(self.search(&q).await?);
            }
        }
        let partial: Vec<String> = out
            .iter()
            .filter(|c| c.is_partial)
            .map(|c| c.conversation_id.clone())
            .collect();
        if !partial.is_empty() {
            let full = self.by_ids(&partial).await?;
            for c in out.iter_mut().filter(|c| c.is_partial) {
                if let Some(f) = full.iter().find(|f| f.conversation_id == c.conversation_id) {
                    *c = f.clone();
                }
            }
        }
        // Each conversation once, as last listed, where first listed.
        let mut at = std::collections::HashMap::new();
        let mut kept: Vec<ConversationInfo> = Vec::with_capacity(out.len());
        for c in out {
            match at.get(&c.conversation_id) {
                Some(&i) => kept[i] = c,
                None => {
                    at.insert(c.conversation_id.clone(), kept.len());
                    kept.push(c);
                }
            }
        }
        Ok(kept)
    }
}

/// An entry's `info`; one that cannot be read is left out, loudly.
fn info_of(entry: &Entry) -> Option<ConversationInfo> {
    match ConversationInfo::deserialize(&entry.info) {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::warn!(conversation = %entry.id, error = %e,
                "conversations/search: an entry's info cannot be read: left out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_at_most_three_months_on_ten_minute_marks() {
        let day = 24 * 3600 * 1000i64;
        let from = 1_700_000_123_456;
        let to = from + 400 * day;
        let w = windows(from, to);
        assert_eq!(w.len(), 5);
        assert_eq!(w[0].0 % TEN_MINUTES_MS, 0);
        assert!(w[0].0 <= from && w.last().unwrap().1 >= to);
        for (a, b) in &w {
            assert!(b - a <= MAX_WINDOW_MS && b > a);
        }
        for pair in w.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "contiguous");
        }
        assert_eq!(windows(from, from).len(), 1);
    }

    #[test]
    fn a_window_over_february_stops_at_three_calendar_months() {
        let ms = |d: &str| crate::clock::parse_date(d).unwrap();
        let w = windows(ms("2026-02-01"), ms("2026-06-01"));
        // 90 days from February 1st would be May 2nd.
        assert_eq!(w[0], (ms("2026-02-01"), ms("2026-05-01")));
        assert_eq!(w[1].0, ms("2026-05-01"));
        for (a, b) in &w {
            assert!(*b <= three_months_after(*a));
        }
    }

    #[test]
    fn source_is_required_and_short() {
        let base = "account = \"1\"\n[auth]\nbearer = { env = \"X\" }\n";
        let e =
            toml::from_str::<LivePersonConfig>(&format!("source = \"{}\"\n{base}", "x".repeat(21)))
                .unwrap_err()
                .to_string();
        assert!(e.contains("at most 20"), "{e}");
        let e = toml::from_str::<LivePersonConfig>(&format!("source = \"\"\n{base}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("must not be empty"), "{e}");
        let e = toml::from_str::<LivePersonConfig>(base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("source"), "{e}");
    }

    #[test]
    fn auth_is_a_bearer_or_a_whole_app_key() {
        let cfg = |auth: &str| format!("account = \"1\"\nsource = \"s\"\n[auth]\n{auth}\n");
        assert!(toml::from_str::<LivePersonConfig>(&cfg("bearer = { env = \"T\" }")).is_ok());
        let e = toml::from_str::<LivePersonConfig>(&cfg("consumer_key = { env = \"K\" }"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("all four"), "{e}");
    }
}
