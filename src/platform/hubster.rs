//! The Hubster engine client: client-credentials token (cached, refreshed
//! before expiry and once on a 401), establish, inbound activities on the
//! customer or business path, and get activities merged across types.

use super::ClientError;
use super::secret::{Secret, SecretSource};
use crate::format::hubster::IntegrationType;
use crate::http::{HttpConfig, HttpError, Metrics, Upstream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// `[hubster]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubsterConfig {
    #[serde(default = "default_identity")]
    pub identity_url: String,
    #[serde(default = "default_engine")]
    pub engine_url: String,
    /// Where inbound activities go.
    #[serde(default = "default_direct")]
    pub direct_url: String,
    /// `hubster.engine.api.<hex>`.
    pub client_id: String,
    pub client_secret: SecretSource,
    /// The token inbound posts carry, when the Direct inbound path does not
    /// take the engine's (Hubster's docs name "your portal access token"
    /// there; the vendor's client sends the engine token, the default).
    /// `convsync doctor` says which one the path takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_token: Option<SecretSource>,
    /// Refresh the token this long before it expires (seconds).
    #[serde(default = "default_refresh_margin")]
    pub token_refresh_margin_secs: u64,
    /// The hub whose established conversations a migration reads when it
    /// is given no conversation ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<String>,
    /// What an inbound post carries: `documented` (the default: only what
    /// Hubster documents) or `full` (the whole activity convsync converted,
    /// for engines that accept it).
    #[serde(default)]
    pub inbound_body: InboundBody,
    /// How long a posted activity may take to show in Get Activities: after
    /// a post whose answer was lost, convsync waits this long before it
    /// reads whether the activity arrived.
    #[serde(default = "default_read_lag")]
    pub read_lag_secs: f64,
    /// How long a post whose answer was lost may still complete: until
    /// then its activity is never sent again, only looked for.
    #[serde(default = "default_unsure_settle")]
    pub unsure_settle_secs: f64,
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_read_lag() -> f64 {
    5.0
}
fn default_unsure_settle() -> f64 {
    120.0
}

/// `hubster.inbound_body`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InboundBody {
    /// `externalId`, `type`, `sender.integrationId` (business senders
    /// only) and `message` or `event`: the engine assigns the rest
    /// (`eventId`, `interactionId`) and derives the sender's type, the
    /// recipient and the trigger.
    #[default]
    Documented,
    /// Every property of the activity but `eventId` (the engine assigns it).
    Full,
}

/// The body of an inbound post of `activity` on `side`'s path.
pub fn inbound_body(activity: &Value, side: Side, mode: InboundBody) -> Value {
    let Some(all) = activity.as_object() else {
        return activity.clone();
    };
    let mut body = serde_json::Map::new();
    match mode {
        InboundBody::Full => {
            body = all.clone();
            body.remove("eventId");
        }
        InboundBody::Documented => {
            for k in ["externalId", "type", "message", "event"] {
                if let Some(v) = all.get(k) {
                    body.insert(k.into(), v.clone());
                }
            }
            // Typing and seen are documented as their type alone (the
            // record they came from stays behind).
            if let Some(Value::Object(ev)) = body.get_mut("event")
                && ev.get("type").and_then(Value::as_str) != Some("payload")
            {
                ev.retain(|k, _| k == "type");
            }
            // The customer's path knows its sender: the integration that
            // established the conversation.
            if side == Side::Business
                && let Some(id) = all.get("sender").and_then(|s| s.get("integrationId"))
            {
                body.insert("sender".into(), json!({ "integrationId": id }));
            }
        }
    }
    Value::Object(body)
}

fn default_identity() -> String {
    "https://identity.hubster.io".into()
}
fn default_engine() -> String {
    "https://engine.hubster.io".into()
}
fn default_direct() -> String {
    "https://direct.hubster.io".into()
}
fn default_refresh_margin() -> u64 {
    120
}

/// Which inbound path an activity takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Customer,
    Business,
}

impl Side {
    pub fn of(t: IntegrationType) -> Side {
        if t == IntegrationType::Customer {
            Side::Customer
        } else {
            Side::Business
        }
    }
}

/// What establish answers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Established {
    pub conversation_id: String,
    #[serde(default)]
    pub hub_id: Option<String>,
    #[serde(default)]
    pub is_new: bool,
}

struct Token {
    secret: Secret,
    refresh_at: Instant,
}

/// The client.
pub struct HubsterClient {
    cfg: HubsterConfig,
    secret: Secret,
    /// `direct_token`, loaded.
    direct_token: Option<Secret>,
    upstream: Upstream,
    token: tokio::sync::Mutex<Option<Token>>,
    /// The longest Get Activities answer seen (see [`Self::activities`]).
    page_seen: AtomicUsize,
}

impl HubsterClient {
    pub fn new(cfg: &HubsterConfig, metrics: Arc<Metrics>) -> Result<Self, ClientError> {
        let secret = cfg.client_secret.load("hubster.client_secret")?;
        let direct_token = cfg
            .direct_token
            .as_ref()
            .map(|t| t.load("hubster.direct_token"))
            .transpose()?;
        let upstream = Upstream::new("hubster", &cfg.http, metrics)?;
        Ok(HubsterClient {
            cfg: cfg.clone(),
            secret,
            direct_token,
            upstream,
            token: tokio::sync::Mutex::new(None),
            page_seen: AtomicUsize::new(0),
        })
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// `read_lag_secs`.
    pub fn read_lag(&self) -> Duration {
        Duration::from_secs_f64(self.cfg.read_lag_secs.max(0.0))
    }

    /// `unsure_settle_secs`.
    pub fn unsure_settle(&self) -> Duration {
        Duration::from_secs_f64(self.cfg.unsure_settle_secs.max(0.0))
    }

    /// A valid token: the cached one, or a new one when it is about to
    /// expire (or `renew` says the cached one was refused).
    pub async fn token(&self, renew: bool) -> Result<Secret, HttpError> {
        let mut cached = self.token.lock().await;
        if !renew
            && let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.secret.clone());
        }
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let url = format!(
            "{}/connect/token",
            self.cfg.identity_url.trim_end_matches('/')
        );
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.cfg.client_id.as_str()),
            ("client_secret", self.secret.expose()),
        ];
        let a: Answer = self
            .upstream
            .send_json(crate::http::TOKEN_ENDPOINT, |c| c.post(&url).form(&form))
            .await?;
        let life = Duration::from_secs(a.expires_in.unwrap_or(3600));
        let margin = Duration::from_secs(self.cfg.token_refresh_margin_secs).min(life / 2);
        let secret = Secret::new(a.access_token);
        *cached = Some(Token {
            secret: secret.clone(),
            refresh_at: Instant::now() + life - margin,
        });
        tracing::debug!(expires_in = life.as_secs(), "hubster token obtained");
        Ok(secret)
    }

    /// Runs an authorized call; on a 401 gets a new token and tries once more.
    async fn authorized<T, F, Fut>(&self, call: F) -> Result<T, HttpError>
    where
        F: Fn(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, HttpError>>,
    {
        let token = self.token(false).await?;
        match call(token).await {
            Err(HttpError::Unauthorized { .. }) => {
                let token = self.token(true).await?;
                call(token).await
            }
            other => other,
        }
    }

    /// Opens (or finds) the Hubster conversation bound to `binding`.
    pub async fn establish(
        &self,
        integration_id: &str,
        binding: &str,
        channel_type: &str,
    ) -> Result<Established, HttpError> {
        self.establish_with_profile(integration_id, binding, channel_type, None)
            .await
    }

    /// As [`establish`](Self::establish), with what is known of the user
    /// (`properties.profile`: `device`, `full name`, ...).
    pub async fn establish_with_profile(
        &self,
        integration_id: &str,
        binding: &str,
        channel_type: &str,
        profile: Option<&Value>,
    ) -> Result<Established, HttpError> {
        let url = format!(
            "{}/api/v1/conversations/establish",
            self.cfg.engine_url.trim_end_matches('/')
        );
        let mut body = json!({"integrationId": integration_id, "binding": binding, "channelType": channel_type});
        if let Some(p) = profile {
            body["properties"] = json!({ "profile": p });
        }
        self.authorized(|t| {
            let (url, body) = (&url, &body);
            async move {
                self.upstream
                    .send_json("establish", |c| {
                        c.post(url).bearer_auth(t.expose()).json(body)
                    })
                    .await
            }
        })
        .await
    }

    /// The hub's established conversations. The answer's shape is not
    /// documented: a bare array or an object holding one (`conversations`,
    /// `items`, `data`, `value`), of conversation objects
    /// (`conversationId` or `id`) or of bare ids, are all read.
    pub async fn established(&self, hub_id: &str) -> Result<Vec<HubConversationInfo>, HttpError> {
        let url = format!(
            "{}/api/v1/conversations/hubs/{}/established",
            self.cfg.engine_url.trim_end_matches('/'),
            percent_encoding::utf8_percent_encode(hub_id, percent_encoding::NON_ALPHANUMERIC)
        );
        let doc: Value = self
            .authorized(|t| {
                let url = &url;
                async move {
                    self.upstream
                        .send_json("established", |c| c.get(url).bearer_auth(t.expose()))
                        .await
                }
            })
            .await?;
        Ok(parse_established(&doc))
    }

    /// Posts one activity on the path of its sender's side, with the body
    /// `hubster.inbound_body` asks for ([`inbound_body`]); returns the
    /// engine's answer (with the `eventId` it assigned). The engine has no
    /// idempotency: an answer lost once the post may have arrived is
    /// [`HttpError::Unsure`], never a blind second post.
    pub async fn send_activity(
        &self,
        conversation_id: &str,
        side: Side,
        activity: &Value,
    ) -> Result<Value, HttpError> {
        let path = match side {
            Side::Customer => "customer",
            Side::Business => "business",
        };
        let endpoint = match side {
            Side::Customer => "inbound_customer",
            Side::Business => "inbound_business",
        };
        let url = format!(
            "{}/inbound/{path}/v1/direct/activity/{conversation_id}",
            self.cfg.direct_url.trim_end_matches('/')
        );
        let body = inbound_body(activity, side, self.cfg.inbound_body);
        self.inbound(endpoint, &url, &body).await
    }

    /// Posts `body` to the inbound path at `url` with the token it takes:
    /// `direct_token` when given, else the engine's (renewed once on a 401).
    async fn inbound(
        &self,
        endpoint: &'static str,
        url: &str,
        body: &Value,
    ) -> Result<Value, HttpError> {
        let post = |t: Secret| async move {
            self.upstream
                .send_json_once(endpoint, |c| c.post(url).bearer_auth(t.expose()).json(body))
                .await
        };
        match &self.direct_token {
            Some(t) => post(t.clone()).await,
            None => self.authorized(post).await,
        }
    }

    /// Which token the inbound path is sent: `hubster.direct_token`, or
    /// the engine's.
    pub fn inbound_token_name(&self) -> &'static str {
        if self.direct_token.is_some() {
            "hubster.direct_token"
        } else {
            "the engine token (from hubster.client_id)"
        }
    }

    /// Proves the Direct inbound path without creating anything: posts to
    /// the customer path of `conversation_id` (one that does not exist) a
    /// body the engine must reject by validation (a message with no
    /// content), and returns what it answered. An engine error (an `ENG`
    /// code) proves the host and the token; a 401/403 refuses the token; a
    /// bare 404 says the host does not serve the path.
    pub async fn probe_inbound(&self, conversation_id: &str) -> Result<Value, HttpError> {
        let url = format!(
            "{}/inbound/customer/v1/direct/activity/{conversation_id}",
            self.cfg.direct_url.trim_end_matches('/')
        );
        let body = serde_json::json!({
            "externalId": "convsync-doctor-probe",
            "type": "message",
        });
        self.inbound("inbound_probe", &url, &body).await
    }

    /// `direct_url`.
    pub fn direct_url(&self) -> &str {
        &self.cfg.direct_url
    }

    /// The conversation's activities from eventId `leid` on, read per
    /// integration type, merged, deduplicated by (eventId, interactionId,
    /// externalId) and ordered by eventId. Asks from `leid - 1` and keeps
    /// eventId >= `leid`, so it is right whether the server's `leid` is
    /// inclusive or exclusive.
    ///
    /// No page size is documented: each type is read page by page, the next
    /// from the last eventId seen, until a page brings nothing new or is
    /// shorter than the longest page this client has seen (a server that
    /// caps its answers fills every page but the last).
    pub async fn activities(
        &self,
        conversation_id: &str,
        types: &[IntegrationType],
        leid: i64,
    ) -> Result<Vec<Value>, HttpError> {
        let url = format!(
            "{}/api/v1/interactions/activities/{conversation_id}",
            self.cfg.engine_url.trim_end_matches('/')
        );
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for t in types {
            let mut ask = leid.saturating_sub(1).max(0);
            loop {
                let query = [("type", t.as_str().to_owned()), ("leid", ask.to_string())];
                let page: Vec<Value> = self
                    .authorized(|tok| {
                        let (url, query) = (&url, &query);
                        async move {
                            self.upstream
                                .send_json("get_activities", |c| {
                                    c.get(url).query(query).bearer_auth(tok.expose())
                                })
                                .await
                        }
                    })
                    .await?;
                let longest = self.page_seen.fetch_max(page.len(), Ordering::Relaxed);
                let short = page.len() < longest;
                let (mut new, mut last) = (0, ask);
                for a in page {
                    let e = a["eventId"].as_i64();
                    last = last.max(e.unwrap_or(last));
                    if e.is_some_and(|e| e < leid) {
                        continue;
                    }
                    let id = json!([a["eventId"], a["interactionId"], a["externalId"]]).to_string();
                    if seen.insert(id) {
                        out.push(a);
                        new += 1;
                    }
                }
                if new == 0 || short || last <= ask {
                    break;
                }
                ask = last;
            }
        }
        out.sort_by_key(|a| a["eventId"].as_i64().unwrap_or(i64::MAX));
        Ok(out)
    }
}

/// One of a hub's established conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConversationInfo {
    pub conversation_id: String,
    /// The caller's key it was established with, when the answer says.
    pub binding: Option<String>,
    /// When it was opened (epoch ms), when the answer says.
    pub opened_ms: Option<i64>,
}

/// Reads the established list in any of the shapes it may take.
pub fn parse_established(doc: &Value) -> Vec<HubConversationInfo> {
    let items = match doc {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) => ["conversations", "items", "data", "value", "established"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(id) => Some(HubConversationInfo {
                conversation_id: id.clone(),
                binding: None,
                opened_ms: None,
            }),
            Value::Object(o) => {
                let id = ["conversationId", "id"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_str))?;
                let opened = ["openedDateTime", "openedDate", "createdDateTime"]
                    .iter()
                    .find_map(|k| o.get(*k))
                    .and_then(|v| match v {
                        Value::Number(n) => n.as_i64(),
                        Value::String(t) => crate::clock::parse_date(t).ok().or_else(|| {
                            httpdate::parse_http_date(t).ok().map(|t| {
                                t.duration_since(std::time::UNIX_EPOCH)
                                    .map_or(0, |d| d.as_millis() as i64)
                            })
                        }),
                        _ => None,
                    });
                Some(HubConversationInfo {
                    conversation_id: id.to_owned(),
                    binding: o.get("binding").and_then(Value::as_str).map(str::to_owned),
                    opened_ms: opened,
                })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod established_tests {
    use super::*;

    #[test]
    fn every_shape_of_the_established_list_is_read() {
        let want = |ids: &[&str], got: Vec<HubConversationInfo>| {
            let got: Vec<String> = got.into_iter().map(|c| c.conversation_id).collect();
            assert_eq!(got, ids);
        };
        want(&["a", "b"], parse_established(&json!(["a", "b"])));
        want(
            &["a", "b"],
            parse_established(&json!({"conversations": [{"conversationId": "a"}, {"id": "b"}]})),
        );
        want(
            &["x"],
            parse_established(&json!({"items": ["x", 3, {"nope": 1}]})),
        );
        want(&[], parse_established(&json!({"status": 200})));
        let c = &parse_established(&json!([{"conversationId": "a", "binding": "B",
            "openedDateTime": "2026-01-02T00:00:00Z"}]))[0];
        assert_eq!(c.binding.as_deref(), Some("B"));
        assert_eq!(c.opened_ms, Some(1_767_312_000_000));
        let c = &parse_established(
            &json!([{"id": "a", "openedDateTime": "Fri, 02 Jan 2026 00:00:00 GMT"}]),
        )[0];
        assert_eq!(c.opened_ms, Some(1_767_312_000_000));
    }
}

#[cfg(test)]
mod inbound_tests {
    use super::*;

    #[test]
    fn a_documented_body_holds_only_documented_properties() {
        let typing = json!({"type": "event", "eventId": 3, "externalId": "x", "isEcho": false,
            "sender": {"integrationId": "a", "integrationType": "Agent"},
            "event": {"type": "typing_on", "channels": [{"type": "LivePerson", "metadata": []}]}});
        assert_eq!(
            inbound_body(&typing, Side::Business, InboundBody::Documented),
            json!({"type": "event", "externalId": "x", "sender": {"integrationId": "a"},
                "event": {"type": "typing_on"}})
        );
        let payload = json!({"type": "event", "externalId": "y",
            "event": {"type": "payload", "payloadType": "p", "payload": {"k": 1}}});
        assert_eq!(
            inbound_body(&payload, Side::Customer, InboundBody::Documented),
            payload
        );
        let full = inbound_body(&typing, Side::Business, InboundBody::Full);
        assert!(full.get("eventId").is_none() && full["event"]["channels"].is_array());
    }
}
