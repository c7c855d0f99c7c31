//! Refusing a body that announces more than `server.max_body_bytes` without resetting
//! the connection under the client.
//!
//! Answering before the body is read leaves its bytes unread; hyper then closes the
//! connection, and a socket closed with unread data sends a TCP reset. A client still
//! writing its body (or not yet reading the answer) sees "connection reset" instead of
//! the `413`, which says nothing about what to fix. So a body up to [`DRAIN_AT_MOST`]
//! is read and thrown away before the `413` goes out, as nginx's lingering close does;
//! the route's deadline still bounds how long that may take. Bodies without a
//! `Content-Length` (chunked) are bounded by tower-http's `RequestBodyLimitLayer`
//! inside this one, which the extractors turn into their own `413`.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

/// The largest announced body read and discarded to answer `413` cleanly. Past it the
/// answer goes out at once: a client sending that much to an authorization server is
/// not one a readable error would help.
const DRAIN_AT_MOST: u64 = 1024 * 1024;

/// Answers `413` to requests whose `Content-Length` exceeds `limit`.
#[derive(Clone, Copy, Debug)]
pub(super) struct OversizedLayer {
    limit: u64,
}

impl OversizedLayer {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        }
    }
}

impl<S> Layer<S> for OversizedLayer {
    type Service = Oversized<S>;

    fn layer(&self, inner: S) -> Oversized<S> {
        Oversized {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`OversizedLayer`].
#[derive(Clone, Debug)]
pub(super) struct Oversized<S> {
    inner: S,
    limit: u64,
}

impl<S> Service<Request> for Oversized<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match announced_length(&request) {
            Some(length) if length > self.limit => {
                let limit = self.limit;
                // A client that asked `Expect: 100-continue` has not sent its body yet and
                // will not, once it has the answer: nothing to read.
                let drain = length <= DRAIN_AT_MOST && !expects_continue(&request);
                let body = request.into_body();
                Either::Right(Box::pin(async move {
                    if drain {
                        discard(body).await;
                    }
                    Ok(too_large(limit))
                }))
            }
            _ => Either::Left(self.inner.call(request)),
        }
    }
}

/// The request's `Content-Length`, when it has a readable one.
fn announced_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Whether the client waits for `100 Continue` before sending its body (RFC 9110
/// section 10.1.1).
fn expects_continue(request: &Request) -> bool {
    request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads `body` to its end (or its first error), keeping nothing.
async fn discard(body: Body) {
    use futures_util::StreamExt;

    let mut chunks = body.into_data_stream();
    while let Some(Ok(_chunk)) = chunks.next().await {}
}

fn too_large(limit: u64) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than this server accepts ({limit} bytes)"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use tower::ServiceExt;

    /// A 1 KiB limit before a handler that answers 200.
    fn limited_to_1024() -> Oversized<impl Service<Request, Response = Response, Error = Infallible>>
    {
        OversizedLayer::new(1024).layer(tower::service_fn(|_request: Request| async {
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        }))
    }

    /// A POST announcing `length` bytes, sent as 1 KiB chunks; the counter tells how
    /// many chunks were read.
    fn post(length: usize) -> (Request, Arc<AtomicUsize>) {
        let read = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&read);
        let chunks = (0..length.div_ceil(1024)).map(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Infallible>(vec![b'x'; 1024])
        });
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let request = Request::post("/")
            .header(header::CONTENT_LENGTH, length)
            .body(body)
            .unwrap_or_default();
        (request, read)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_reaches_the_handler() {
        let (request, _) = post(1024);
        let Ok(response) = limited_to_1024().oneshot(request).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_read_to_its_end_then_answered_413() {
        let (request, read) = post(64 * 1024);
        let Ok(response) = limited_to_1024().oneshot(request).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::SeqCst), 64, "every chunk is read");
        let body = axum::body::to_bytes(response.into_body(), 1024).await;
        let text = String::from_utf8(body.unwrap_or_default().to_vec()).unwrap_or_default();
        assert!(text.contains("(1024 bytes)"), "{text}");
    }

    #[tokio::test]
    async fn a_client_waiting_for_100_continue_is_answered_413_without_reading() {
        let (mut request, read) = post(64 * 1024);
        let expect = axum::http::HeaderValue::from_static("100-continue");
        request.headers_mut().insert(header::EXPECT, expect);
        let Ok(response) = limited_to_1024().oneshot(request).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_body_past_the_drain_bound_is_answered_413_unread() {
        let huge = usize::try_from(DRAIN_AT_MOST).unwrap_or(usize::MAX) + 1;
        let (request, read) = post(huge);
        let Ok(response) = limited_to_1024().oneshot(request).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }
}
