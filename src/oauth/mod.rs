//! Protocol use-cases: validate, decide, issue. No HTTP types here.

pub mod metadata;
