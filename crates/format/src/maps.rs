//! Map points as Hubster shows them: a web map's URL.

/// A web map of a point: how a Hubster card or action shows a map.
pub fn maps_url(la: f64, lo: f64) -> String {
    format!("{MAPS_URL}{la},{lo}")
}

/// The prefix of [`maps_url`].
pub const MAPS_URL: &str = "https://www.google.com/maps/search/?api=1&query=";

/// The point a [`maps_url`] shows.
pub fn maps_point(url: &str) -> Option<(f64, f64)> {
    let (la, lo) = url.strip_prefix(MAPS_URL)?.split_once(',')?;
    Some((la.parse().ok()?, lo.parse().ok()?))
}
