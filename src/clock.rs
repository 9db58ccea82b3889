//! Wall-clock time where convsync needs it (never inside the converter).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Epoch ms from `YYYY-MM-DD` (midnight UTC), RFC 3339, or epoch ms.
/// A date that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{0:?} is not a date: use YYYY-MM-DD, RFC 3339 (2026-01-31T12:00:00Z) or epoch milliseconds"
)]
pub struct DateError(pub String);

pub fn parse_date(s: &str) -> Result<i64, DateError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    Err(DateError(s.to_owned()))
}

/// Epoch ms as RFC 3339 (the number itself if out of range).
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |d| d.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-01-31").unwrap(), 1_769_817_600_000);
        assert_eq!(
            parse_date("2026-01-31T00:00:00Z").unwrap(),
            1_769_817_600_000
        );
        assert_eq!(parse_date("1769817600000").unwrap(), 1_769_817_600_000);
        assert!(
            parse_date("last tuesday")
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
    }
}
