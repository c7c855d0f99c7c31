//! `GET /admin`: counts, tokens issued per grant (from the metrics), recent events.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::audit::EventRow;
use super::{ConsoleAdmin, ConsoleChrome, FlashQuery, page, read_failure};
use crate::admin::audit::{self as audit_log, AuditQuery};
use crate::state::AppState;
use crate::storage::ObjectCounts;
use crate::telemetry::names::TOKENS_ISSUED;
use crate::web::pages::PageError;

/// How many recent events the dashboard lists.
const RECENT: u32 = 10;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Dashboard {
    chrome: ConsoleChrome,
    counts: ObjectCounts,
    issued: Vec<(String, String)>,
    events: Vec<EventRow>,
}

pub(super) async fn get(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Query(flash): Query<FlashQuery>,
    headers: HeaderMap,
) -> Response {
    let counts = match state.store.count_objects().await {
        Ok(counts) => counts,
        Err(error) => return PageError::internal(&error).render(&state, &headers),
    };
    let recent = AuditQuery {
        limit: Some(RECENT),
        ..AuditQuery::default()
    };
    let events = match audit_log::list(&state.admin, recent).await {
        Ok(page) => page.items.into_iter().map(EventRow::from).collect(),
        Err(error) => return read_failure(&state, &headers, error),
    };
    let dashboard = Dashboard {
        chrome: ConsoleChrome::new(&state, &admin, "/admin", flash.flash.as_deref()),
        counts,
        issued: tokens_issued(&state.metrics.render()),
        events,
    };
    page(StatusCode::OK, &dashboard)
}

/// `(grant type, count)` from the Prometheus text of this instance's counters.
fn tokens_issued(exposition: &str) -> Vec<(String, String)> {
    let mut issued: Vec<(String, String)> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix(TOKENS_ISSUED))
        .filter_map(|rest| rest.strip_prefix("{grant_type=\""))
        .filter_map(|rest| rest.split_once("\"}"))
        .map(|(grant, count)| (grant.to_owned(), count.trim().to_owned()))
        .collect();
    issued.sort();
    issued
}

#[cfg(test)]
mod tests {
    use super::tokens_issued;

    #[test]
    fn issued_tokens_are_read_from_the_exposition() {
        let text = "# HELP mcp_authz_tokens_issued_total x\n\
                    mcp_authz_tokens_issued_total{grant_type=\"refresh_token\"} 3\n\
                    mcp_authz_tokens_issued_total{grant_type=\"authorization_code\"} 12\n\
                    mcp_authz_http_requests_total{route=\"/\"} 9\n";
        assert_eq!(
            tokens_issued(text),
            [
                ("authorization_code".to_owned(), "12".to_owned()),
                ("refresh_token".to_owned(), "3".to_owned())
            ]
        );
    }
}
