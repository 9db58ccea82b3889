//! OAuth 1.0a request signing with HMAC-SHA1 (RFC 5849), as LivePerson's
//! app keys use it: consumer key and secret plus access token and secret.

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;

/// RFC 3986 unreserved characters stay; everything else is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

/// The four secrets of an app key.
#[derive(Clone)]
pub struct Keys {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token: String,
    pub token_secret: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .field("token", &"<redacted>")
            .field("token_secret", &"<redacted>")
            .finish()
    }
}

/// The signature of a request: `url` without its query, `params` = query
/// parameters plus the `oauth_*` ones (a JSON body is not signed).
pub fn signature(
    method: &str,
    url: &url::Url,
    params: &BTreeMap<String, String>,
    keys: &Keys,
) -> String {
    let mut base_url = url.clone();
    base_url.set_query(None);
    base_url.set_fragment(None);
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        enc(base_url.as_str()),
        enc(&normalized)
    );
    let key = format!("{}&{}", enc(&keys.consumer_secret), enc(&keys.token_secret));
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `oauth_*` parameters of a request, unsigned.
fn oauth_params(keys: &Keys, nonce: &str, timestamp: u64) -> BTreeMap<String, String> {
    [
        ("oauth_consumer_key", keys.consumer_key.as_str()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", &timestamp.to_string()),
        ("oauth_token", keys.token.as_str()),
        ("oauth_version", "1.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The `Authorization` header value for a request.
pub fn authorization(
    method: &str,
    url: &url::Url,
    keys: &Keys,
    nonce: &str,
    timestamp: u64,
) -> String {
    let oauth = oauth_params(keys, nonce, timestamp);
    let mut all = oauth.clone();
    for (k, v) in url.query_pairs() {
        all.insert(k.into_owned(), v.into_owned());
    }
    let sig = signature(method, url, &all, keys);
    let mut parts: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", enc(v)))
        .collect();
    parts.push(format!("oauth_signature=\"{}\"", enc(&sig)));
    format!("OAuth {}", parts.join(", "))
}

/// Checks an `Authorization: OAuth ...` header against the keys (what the
/// simulator does in LivePerson's place). `Err` says what is wrong.
pub fn verify(header: &str, method: &str, url: &url::Url, keys: &Keys) -> Result<(), &'static str> {
    let rest = header.strip_prefix("OAuth ").ok_or("not an OAuth header")?;
    let mut given = BTreeMap::new();
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or("malformed OAuth header")?;
        let v = v.trim_matches('"');
        let v = percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .map_err(|_| "malformed OAuth header")?;
        given.insert(k.to_owned(), v.into_owned());
    }
    if given.get("oauth_consumer_key") != Some(&keys.consumer_key) {
        return Err("unknown consumer key");
    }
    if given.get("oauth_token") != Some(&keys.token) {
        return Err("unknown token");
    }
    let sig = given.remove("oauth_signature").ok_or("no signature")?;
    for (k, v) in url.query_pairs() {
        given.insert(k.into_owned(), v.into_owned());
    }
    if signature(method, url, &given, keys) != sig {
        return Err("bad signature");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            consumer_key: "ck".into(),
            consumer_secret: "cs".into(),
            token: "tk".into(),
            token_secret: "ts".into(),
        }
    }

    #[test]
    fn known_signature() {
        // A widely published worked example of HMAC-SHA1 request signing
        // (a status update with a form body, whose field is signed too).
        let k = Keys {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog".into(),
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw".into(),
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into(),
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE".into(),
        };
        let url = url::Url::parse(
            "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        )
        .unwrap();
        let mut p = oauth_params(&k, "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", 1318622958);
        p.insert("include_entities".into(), "true".into());
        p.insert(
            "status".into(),
            "Hello Ladies + Gentlemen, a signed OAuth request!".into(),
        );
        assert_eq!(
            signature("POST", &url, &p, &k),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }

    #[test]
    fn a_signed_request_verifies_and_a_tampered_one_does_not() {
        let url = url::Url::parse("https://va.msghist.liveperson.net/messaging_history/api/account/123/conversations/search?offset=0&limit=100&source=app").unwrap();
        let h = authorization("POST", &url, &keys(), "n0nce", 1_700_000_000);
        assert!(h.starts_with("OAuth oauth_consumer_key=\"ck\""), "{h}");
        assert_eq!(verify(&h, "POST", &url, &keys()), Ok(()));
        let other = url::Url::parse("https://va.msghist.liveperson.net/messaging_history/api/account/123/conversations/search?offset=100&limit=100&source=app").unwrap();
        assert_eq!(verify(&h, "POST", &other, &keys()), Err("bad signature"));
        let mut wrong = keys();
        wrong.consumer_secret = "nope".into();
        assert_eq!(verify(&h, "POST", &url, &wrong), Err("bad signature"));
        assert!(!format!("{:?}", keys()).contains("cs"));
    }
}
