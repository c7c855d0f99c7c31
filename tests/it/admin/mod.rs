mod auth;
mod clients;
mod initial_access_tokens;
mod servers;
mod users;
