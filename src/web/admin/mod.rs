//! Admin surfaces: the JSON API (the console joins it later).

pub(super) mod api;
