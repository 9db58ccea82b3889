//! LivePerson structured content (rich content) <-> Hubster message types.
//!
//! LivePerson -> Hubster: a vertical or horizontal layout, however nested,
//! becomes a `card` (texts give title, subtitle and content; the first image
//! the card's url; buttons at any depth its actions, each titled by what its
//! element shows and the action's own name), a carousel (tabs, a selecting
//! carousel or accordion) a `carousel`, a lone element its Hubster
//! equivalent. What Hubster has no element for is text or a postback in the
//! same message, and named ([`Degraded`]) so that reports and metrics say
//! what the mapping could not carry as it was.
//! Hubster -> LivePerson: cards, carousels, lists, contacts, images, links
//! and locations become vertical / carousel layouts of text, image, button and
//! map elements.

mod element;
mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::{Degraded, Read, quick_replies, read, read_quick_replies, to_hubster_content};
pub use write::to_structured;
