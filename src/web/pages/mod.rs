//! Server-rendered HTML pages (askama templates in `templates/`).

pub(super) mod home;
