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

    fn request() -> Request {
        Request::new(Body::empty())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_still_waiting_at_the_deadline_is_answered_408() {
        let stuck = service_fn(|_: Request| async {
            pending::<()>().await;
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        });
        let response = DeadlineLayer::new(Duration::from_secs(30))
            .layer(stuck)
            .oneshot(request())
            .await;
        let Ok(response) = response;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_answered_before_the_deadline_keeps_its_answer() {
        let slow = service_fn(|_: Request| async {
            tokio::time::sleep(Duration::from_secs(29)).await;
            Ok::<_, Infallible>(StatusCode::CREATED.into_response())
        });
        let response = DeadlineLayer::new(Duration::from_secs(30))
            .layer(slow)
            .oneshot(request())
            .await;
        let Ok(response) = response;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}
