//! The console's gate: every route runs only for a live session of an enabled user
//! with the admin role, used within `admin.console_idle_timeout`. Signed-out (or idle)
//! browsers go to the sign-in page, which returns here; signed-in users without the
//! role get a 403 page. Nothing of a console handler runs otherwise.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::user::User;
use crate::session::Session;
use crate::state::AppState;
use crate::web::pages::PageError;
use crate::web::pages::login::console_login_url;
use crate::web::responses::see_other;
use crate::web::session::{CurrentSession, clear_cookie};

/// The signed-in administrator, put in the request by [`require_admin`].
#[derive(Clone)]
pub(crate) struct ConsoleAdmin {
    /// The account.
    pub(crate) user: User,
    /// The session (for CSRF tokens).
    pub(crate) session: Session,
}

/// The console's middleware.
pub(crate) async fn require_admin(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers().clone();
    let Some((session, user_id)) = session.and_then(|s| s.user().map(|u| (s, u))) else {
        return see_other(&console_login_url(&state));
    };
    let idle = state.settings.raw.admin.console_idle_timeout;
    if !state.sessions.console_active(&session, idle) {
        // Idle too long: the session ends, and signing in again returns here.
        if let Err(error) = state.sessions.sign_out(&session).await {
            return PageError::internal(&error).render(&state, &headers);
        }
        let mut response = see_other(&console_login_url(&state));
        response
            .headers_mut()
            .append(header::SET_COOKIE, clear_cookie());
        return response;
    }
    let user = match state.store.find_user(&user_id).await {
        Ok(Some(record)) if record.user.is_enabled && record.user.is_admin => record.user,
        Ok(_) => {
            return PageError::new(
                StatusCode::FORBIDDEN,
                "Administrators only",
                "Your account cannot use the admin console. Ask an administrator for the admin role.",
            )
            .render(&state, &headers);
        }
        Err(error) => return PageError::internal(&error).render(&state, &headers),
    };
    if let Err(error) = state.sessions.touch_console(&session).await {
        return PageError::internal(&error).render(&state, &headers);
    }
    request
        .extensions_mut()
        .insert(ConsoleAdmin { user, session });
    next.run(request).await
}
