//! People: password verification now; sessions, cookies and CSRF arrive with sign-in.

pub mod password;
