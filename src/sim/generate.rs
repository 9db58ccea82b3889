//! Deterministic LivePerson conversations from a seed: every content type
//! (previews included), rich content, accept statuses, bots, several dialogs,
//! records out of order, timestamps that disagree with sequences, unicode.
//! The same seed always gives the same bytes.

use serde_json::{Value, json};

/// SplitMix64: small, fast, and the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

const PHRASES: &[&str] = &[
    "hello",
    "How can I help you?",
    "I can't log in to my account",
    "Could you send me the order number, please?",
    "Merci beaucoup ! Ça marche 👍",
    "Danke, das hat geholfen.",
    "注文番号は 12345 です",
    "Спасибо за помощь",
    "¿Puedo cambiar la dirección de envío?",
    "Let me check that for you… one moment ⏳",
    "My card was charged twice 😡😡",
    "Quote \"this\" and a back\\slash\ttab",
    "🚀🌍✨ all good now",
    "",
];

/// Options for one generated conversation.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Roughly how many content records (accept statuses come on top).
    pub messages: usize,
    /// Start of the conversation, epoch ms.
    pub start_ms: i64,
}

/// One conversation: its id and its records, shuffled as LivePerson sends them.
pub fn conversation(rng: &mut Rng, shape: &Shape) -> (String, Vec<Value>) {
    let id = rng.uuid();
    let consumer = rng.uuid();
    let agents = [rng.uuid(), rng.uuid()];
    let bot = rng.uuid();
    let survey = rng.chance(15).then(|| rng.uuid());
    let mut records = Vec::new();
    let mut ts = shape.start_ms;
    let n = shape.messages.max(1);
    for seq in 0..n as i64 {
        ts += 500 + rng.below(90_000) as i64;
        // Timestamps that disagree with sequences, as in LivePerson's own example.
        let stamp = if rng.chance(10) {
            ts - rng.below(120_000) as i64
        } else {
            ts
        };
        let (originator, role) = match rng.below(10) {
            0..=3 => (consumer.clone(), "CONSUMER"),
            4..=5 => (agents[0].clone(), "ASSIGNED_AGENT"),
            6 => (
                agents[1].clone(),
                *rng.pick(&["AGENT", "MANAGER", "READER"]),
            ),
            7..=8 => (bot.clone(), "CONTROLLER"),
            _ => (agents[0].clone(), "AGENT"),
        };
        let dialog = match &survey {
            Some(s) if seq as usize >= n.saturating_sub(2) => s.clone(),
            _ => id.clone(),
        };
        let event = content_event(rng, &originator);
        let mut rec = json!({
            "sequence": seq,
            "dialogId": dialog,
            "originatorId": originator,
            "serverTimestamp": stamp,
            "originatorMetadata": {"id": originator, "role": role},
            "event": event,
        });
        if rng.chance(2) {
            rec["participantDetails"] = json!({"lang": "en-US", "extra": [1, 2, 3]});
        }
        records.push(rec);
        // Receipts from the other side for this sequence.
        if rng.chance(60) {
            let reader = if role == "CONSUMER" {
                agents[0].clone()
            } else {
                consumer.clone()
            };
            let reader_role = if role == "CONSUMER" {
                "ASSIGNED_AGENT"
            } else {
                "CONSUMER"
            };
            for (status, delay) in [("ACCEPT", 40), ("READ", 900)] {
                if status == "READ" && rng.chance(30) {
                    continue;
                }
                records.push(json!({
                    "originatorId": reader,
                    "dialogId": dialog,
                    "serverTimestamp": stamp + delay + rng.below(500) as i64,
                    "originatorMetadata": {"id": reader, "role": reader_role},
                    "event": {"type": "AcceptStatusEvent", "status": status, "sequenceList": [seq]},
                }));
            }
        }
    }
    // LivePerson does not sort the records it returns.
    for i in (1..records.len()).rev() {
        if rng.chance(35) {
            let j = rng.below(i as u64 + 1) as usize;
            records.swap(i, j);
        }
    }
    (id, records)
}

fn content_event(rng: &mut Rng, originator: &str) -> Value {
    match rng.below(100) {
        0..=69 => {
            let mut text = (*rng.pick(PHRASES)).to_owned();
            if rng.chance(30) {
                text.push(' ');
                let more: &&str = rng.pick(PHRASES);
                text.push_str(more);
            }
            json!({"type": "ContentEvent", "contentType": "text/plain", "message": text})
        }
        70..=77 => {
            let (ext, image) = *rng.pick(&[
                ("JPG", true),
                ("PNG", true),
                ("GIF", true),
                ("PDF", false),
                ("TXT", false),
            ]);
            let mut msg = json!({
                "caption": if rng.chance(50) { "" } else { "photo of the receipt" },
                "relativePath": format!("/v1/AUTH_async-images/le79144597/{originator}_uuid_{}.{ext}", rng.uuid()),
                "fileType": ext,
            });
            if image {
                let len = 200 + rng.below(600) as usize;
                let preview: String = (0..len)
                    .map(|i| {
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                            [(i * 7 + len) % 64] as char
                    })
                    .collect();
                msg["preview"] = format!("data:image/jpeg;base64,/9j/{preview}").into();
            }
            json!({"type": "ContentEvent", "contentType": "hosted/file", "message": msg})
        }
        78..=81 => {
            let inv = format!("{}-{}-1", rng.uuid(), rng.uuid());
            if rng.chance(50) {
                json!({"type": "ContentEvent", "contentType": "forms/secure-invitation", "message": {"invitationId": inv, "title": "Credit card form"}})
            } else {
                json!({"type": "ContentEvent", "contentType": "forms/secure-submission", "message": {"invitationId": inv}})
            }
        }
        82..=95 => {
            let content = match rng.below(4) {
                0 => json!({"type": "vertical", "elements": [
                    {"type": "image", "url": "https://example.com/p.png"},
                    {"type": "text", "text": "product name (Title)", "style": {"bold": true, "size": "large"}},
                    {"type": "text", "text": rng.pick(PHRASES)},
                    {"type": "button", "title": "Buy", "click": {"actions": [{"type": "link", "uri": "https://example.com/buy"}]}}]}),
                1 => json!({"type": "carousel", "padding": 10, "elements": [
                    {"type": "vertical", "elements": [{"type": "text", "text": "Option A"}, {"type": "button", "title": "Pick A", "click": {"actions": [{"type": "publishText", "text": "A"}]}}]},
                    {"type": "vertical", "elements": [{"type": "text", "text": "Option B ✨"}, {"type": "button", "title": "Pick B", "click": {"actions": [{"type": "publishText", "text": "B"}]}}]}]}),
                2 => {
                    json!({"type": "horizontal", "elements": [{"type": "text", "text": "left"}, {"type": "text", "text": "right"}]})
                }
                _ => {
                    json!({"type": "vertical", "elements": [{"type": "map", "la": 40.7, "lo": -74.0, "tooltip": "Store"}]})
                }
            };
            json!({"type": "RichContentEvent", "content": content.to_string()})
        }
        96..=97 => {
            json!({"type": "ContentEvent", "contentType": "text/html", "message": "<b>bold</b> move"})
        }
        _ => json!({"type": "RichContentEvent", "content": "{not json"}),
    }
}

/// `count` conversations as JSONL lines (`{"conversationId", "messageEventRecords"}`).
pub fn jsonl(
    seed: u64,
    count: u64,
    messages: usize,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let base = 1_700_000_000_000i64;
    for i in 0..count {
        let shape = Shape {
            messages: 1 + rng.below(2 * messages as u64) as usize,
            start_ms: base + i as i64 * 60_000,
        };
        let (id, records) = conversation(&mut rng, &shape);
        serde_json::to_writer(
            &mut *out,
            &json!({"conversationId": id, "messageEventRecords": records}),
        )?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut c = Vec::new();
        jsonl(7, 20, 10, &mut a).unwrap();
        jsonl(7, 20, 10, &mut b).unwrap();
        jsonl(8, 20, 10, &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.iter().filter(|&&x| x == b'\n').count(), 20);
    }
}
