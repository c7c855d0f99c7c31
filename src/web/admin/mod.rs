//! Admin surfaces: the JSON API and the web console, two skins over `crate::admin`.

pub(super) mod api;
pub(super) mod console;
