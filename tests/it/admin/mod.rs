mod auth;
mod clients;
mod console;
mod initial_access_tokens;
mod servers;
mod users;
