//! `GET /admin`: counts, tokens issued per grant (from the metrics), recent events.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;

use super::ConsoleChrome;
use super::audit::{EventRow, rows};
use super::kit::{Console, ListParams};
use crate::admin::AdminError;
use crate::admin::audit::{self as audit_log, AuditQuery, SECURITY_KIND};
use crate::storage::ObjectCounts;
use crate::telemetry::names::TOKENS_ISSUED;

/// How many recent events the dashboard lists.
const RECENT: u32 = 10;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Dashboard {
    chrome: ConsoleChrome,
    counts: ObjectCounts,
    issued: Vec<(String, String)>,
    events: Vec<EventRow>,
    security: Vec<EventRow>,
}

pub(super) async fn get(console: Console, Query(params): Query<ListParams>) -> Response {
    let built = async {
        let counts = console.state.store.count_objects().await?;
        let recent = AuditQuery {
            limit: Some(RECENT),
            ..AuditQuery::default()
        };
        let events = audit_log::list(console.ctx(), recent).await?.items;
        let recent_security = AuditQuery {
            kind: Some(SECURITY_KIND.to_owned()),
            limit: Some(RECENT),
            ..AuditQuery::default()
        };
        let security = audit_log::list(console.ctx(), recent_security).await?.items;
        Ok::<_, AdminError>(Dashboard {
            chrome: console.chrome("/admin", params.flash.as_deref()),
            counts,
            issued: tokens_issued(&console.state.metrics.render()),
            events: rows(&console, events).await,
            security: rows(&console, security).await,
        })
    }
    .await;
    console.show(StatusCode::OK, built)
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
