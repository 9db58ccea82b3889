//! LivePerson structured content (rich content) <-> Hubster message types.
//!
//! LivePerson -> Hubster: a vertical layout becomes a `card` (texts give title,
//! subtitle and content; the first image the card's url; buttons its actions),
//! a carousel a `carousel`, anything else a `text` made of its text elements.
//! Hubster -> LivePerson: cards, carousels, lists, contacts, images, links
//! and locations become vertical / carousel layouts of text, image, button and
//! map elements.

mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::{Degraded, Read, quick_replies, read, read_quick_replies, to_hubster_content};
pub use write::to_structured;
