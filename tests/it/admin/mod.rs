mod auth;
mod clients;
mod servers;
mod users;
