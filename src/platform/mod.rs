//! One module per platform: its client, auth and discovery; `files` for
//! conversations kept in files of either format.

pub mod files;
pub mod hubster;
pub mod liveperson;
pub mod oauth1;
pub mod secret;

/// A client that could not be built from its config section.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    /// A setting this client cannot work with; what to use instead.
    #[error("{0}")]
    Unusable(String),
}
