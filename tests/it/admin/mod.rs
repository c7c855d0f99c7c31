mod auth;
mod clients;
mod console;
mod grants;
mod initial_access_tokens;
mod security_events;
mod servers;
mod users;
