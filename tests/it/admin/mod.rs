mod auth;
mod clients;
mod console;
mod initial_access_tokens;
mod security_events;
mod servers;
mod users;
