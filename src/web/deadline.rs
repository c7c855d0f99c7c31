//! The request deadline of the routes that read a body or do real work: `408 Request
//! Timeout` when a request is still unanswered after `server.request_timeout` (a client
//! that stops sending its body, a stuck upstream).
//!
//! tower-http's `TimeoutLayer` arms a timer for every request before it polls the
//! handler. With no other timer pending, tokio wakes its I/O driver for each timer armed
//! (an `eventfd` write), so every client-credentials token, answered within its first
//! poll, paid a system call and an extra turn of the event loop for a deadline it never
//! needed. `tokio::time::timeout` polls the request first and arms the timer only when
//! the request has to wait.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::Map;
use tokio::time::Timeout;
use tokio::time::error::Elapsed;
use tower::{Layer, Service};

/// Bounds every request of the wrapped routes to `timeout`.
#[derive(Clone, Copy, Debug)]
pub(super) struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    pub(super) fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub(super) struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Map<Timeout<S::Future>, fn(Result<Answer, Elapsed>) -> Answer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        tokio::time::timeout(self.timeout, self.inner.call(request)).map(answer_408_when_late)
    }
}

fn answer_408_when_late(result: Result<Answer, Elapsed>) -> Answer {
    result.unwrap_or_else(|_elapsed| Ok(StatusCode::REQUEST_TIMEOUT.into_response()))
}

#[cfg(test)]
mod tests {
    use std::future::pending;

    use axum::body::Body;
    use tower::ServiceExt;
    use tower::service_fn;

    use super::*;

    /// The status a 30 s deadline answers for a handler that takes `handler_time` and
    /// then answers `201` (`None`: a handler that never answers).
    async fn status_with_a_30s_deadline(handler_time: Option<Duration>) -> StatusCode {
        let handler = service_fn(move |_: Request| async move {
            match handler_time {
                Some(time) => tokio::time::sleep(time).await,
                None => pending::<()>().await,
            }
            Ok::<_, Infallible>(StatusCode::CREATED.into_response())
        });
        let Ok(response) = DeadlineLayer::new(Duration::from_secs(30))
            .layer(handler)
            .oneshot(Request::new(Body::empty()))
            .await;
        response.status()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_still_waiting_at_the_deadline_is_answered_408() {
        assert_eq!(
            status_with_a_30s_deadline(None).await,
            StatusCode::REQUEST_TIMEOUT
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_answered_before_the_deadline_keeps_its_answer() {
        let just_in_time = Some(Duration::from_secs(29));
        assert_eq!(
            status_with_a_30s_deadline(just_in_time).await,
            StatusCode::CREATED
        );
    }
}
