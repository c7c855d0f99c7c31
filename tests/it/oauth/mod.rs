mod jwks;
mod metadata;
